//! The query parser: any query string against every built-in endpoint's parameters. Binding may
//! refuse; it must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pythumbio::catalog::{Catalog, OutputLimits};
use std::sync::OnceLock;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        gstreamer::init().expect("GStreamer initialises");
        let limits = OutputLimits {
            width: 3840,
            height: 2160,
        };
        Catalog::load(None, limits).expect("the built-in set loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    for endpoint in &catalog().endpoints {
        if let Ok(bound) = pythumbio::catalog::params::bind(&endpoint.params, &pairs) {
            // Every query that binds fills its description: the load check saw to it.
            endpoint.render(&bound).expect("a bound query renders");
            let _ = endpoint.content_type(&bound);
            let _ = endpoint.rate(&bound);
        }
    }
});
