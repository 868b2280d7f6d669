#![deny(warnings)]

use faust::prelude::*;

fn no_spaces(account: &String) -> std::result::Result<(), String> {
    if account.contains(' ') {
        Err(format!("{account:?} contains a space"))
    } else {
        Ok(())
    }
}

mod checks {
    pub fn even(n: &u32) -> Result<(), &'static str> {
        if n % 2 == 0 { Ok(()) } else { Err("odd") }
    }
}

#[record(validate)]
#[derive(Debug, Clone, PartialEq)]
struct Address {
    #[validate(length(min = 1, max = 64))]
    city: String,
}

/// Doc comments and serde attributes stay.
#[record(validate, serializer = "msgpack", namespace = "shop.models.Order")]
#[derive(Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Order {
    // An integer bound on a float field.
    #[validate(range(min = 0, max = 1000))]
    amount: f64,
    #[validate(range(min = -10, max = 10))]
    delta: i32,
    #[validate(range(min = 0.5))]
    discount: Option<f64>,
    #[validate(length(min = 1), pattern = "^[A-Z]{3}-[0-9]+$")]
    sku: String,
    #[validate(custom = no_spaces)]
    account: String,
    #[validate(custom = checks::even)]
    quantity: u32,
    #[validate(nested)]
    address: Address,
    #[validate(nested)]
    billing: Option<Address>,
    #[validate(nested)]
    #[validate(length(max = 3))]
    stops: Vec<Address>,
    #[validate(pattern = "^[a-z]+$")]
    note: Option<String>,
    #[serde(default)]
    r#type: String,
}

#[record]
#[derive(Debug)]
struct Plain {
    id: u64,
}

#[record(validate)]
struct NoRules {
    id: u64,
}

fn good() -> Order {
    let home = Address {
        city: "Lyon".to_owned(),
    };
    Order {
        amount: 10.0,
        delta: -3,
        discount: None,
        sku: "ABC-1".to_owned(),
        account: "alice".to_owned(),
        quantity: 2,
        address: home.clone(),
        billing: Some(home.clone()),
        stops: vec![home],
        note: None,
        r#type: String::new(),
    }
}

fn main() {
    assert_eq!(<Order as Payload>::DEFAULT_CODEC, "msgpack");
    assert_eq!(
        <Order as Payload>::FAUST_NAMESPACE,
        Some("shop.models.Order")
    );
    assert_eq!(<Plain as Payload>::DEFAULT_CODEC, "json");
    assert_eq!(<Plain as Payload>::FAUST_NAMESPACE, None);
    assert!(Plain { id: 1 }.validate().is_ok());
    assert!(NoRules { id: 1 }.validate().is_ok());

    assert!(good().validate().is_ok());

    let mut bad = good();
    bad.amount = -1.0;
    bad.delta = 11;
    bad.discount = Some(0.1);
    bad.sku = "abc".to_owned();
    bad.account = "a b".to_owned();
    bad.quantity = 3;
    bad.stops[0].city = String::new();
    bad.note = Some("UPPER".to_owned());
    let error = bad.validate().unwrap_err();
    assert_eq!(error.record, "Order");
    let paths: Vec<&str> = error.failures.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "amount",
            "delta",
            "discount",
            "sku",
            "account",
            "quantity",
            "stops[0].city",
            "note"
        ]
    );
}
