//! Signed URLs: with PYTHUMBIO_KEY set, an endpoint answers only requests whose `sig` is the
//! HMAC-SHA256 of salt + path + "?" + query, as `pythumbio sign` makes it.

mod support;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use support::media::Media;
use support::{binary_output, media_url, Service};

const KEY: &str = "943b421c9eb07c830af81030552c86009268de4e532ba2ee2eab8247c6da0881";
const SALT: &str = "520f986b998545b4785e0defbc4f3c1203f22de2374a3d53cb7a7fe9fea309c5";

fn signed_service() -> Service {
    Service::with_env(&[("PYTHUMBIO_KEY", KEY), ("PYTHUMBIO_SALT", SALT)])
}

/// What `pythumbio sign` prints for `path_and_query`.
fn sign_with_cli(path_and_query: &str) -> String {
    let env = [("PYTHUMBIO_KEY", KEY), ("PYTHUMBIO_SALT", SALT)];
    binary_output(&["sign", path_and_query], &env)
        .trim()
        .to_string()
}

/// The documented scheme, computed here independently of the service.
fn sig(path: &str, query: &str) -> String {
    let hex = |s: &str| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>()
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&hex(KEY)).unwrap();
    mac.update(&hex(SALT));
    mac.update(format!("{path}?{query}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

async fn status(service: &Service, path_and_query: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{}{path_and_query}", service.addr))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn only_signed_requests_are_served() {
    let service = signed_service();
    let target = service.url(
        "/thumb",
        &[("url", &media_url(Media::mp4())), ("width", "100")],
    );
    let path_and_query = &target[target.find("/thumb").unwrap()..];

    let (code, json) = status(&service, path_and_query).await;
    assert_eq!(
        (code, json["code"].as_str()),
        (403, Some("signature_missing"))
    );

    let signed = sign_with_cli(path_and_query);
    let (path, query) = path_and_query.split_once('?').unwrap();
    assert_eq!(
        signed,
        format!("{path_and_query}&sig={}", sig(path, query)),
        "the documented scheme"
    );
    let (code, _) = status(&service, &signed).await;
    assert_eq!(code, 200);

    // One spelling only: `sig` twice is refused, and an empty pair changes what was signed.
    let (code, json) = status(
        &service,
        &format!("{signed}&{}", &signed[signed.rfind("sig=").unwrap()..]),
    )
    .await;
    assert_eq!(
        (code, json["code"].as_str(), json["parameter"].as_str()),
        (400, Some("repeated_parameter"), Some("sig"))
    );
    let (code, json) = status(&service, &signed.replacen("&width=100", "&&width=100", 1)).await;
    assert_eq!(
        (code, json["code"].as_str()),
        (403, Some("signature_invalid"))
    );

    // A changed value, a reordered query, another path: refused.
    let (code, json) = status(&service, &signed.replace("width=100", "width=101")).await;
    assert_eq!(
        (code, json["code"].as_str()),
        (403, Some("signature_invalid"))
    );
    let sig_pair = &signed[signed.rfind("&sig=").unwrap() + 1..];
    let reordered = format!(
        "{path}?width=100&{}&{sig_pair}",
        query.replace("&width=100", "")
    );
    assert_eq!(status(&service, &reordered).await.0, 403);
    assert_eq!(
        status(&service, &signed.replacen("/thumb", "/video", 1))
            .await
            .0,
        403
    );
    // The service's own pages need no signature.
    for page in ["/version", "/metrics", "/healthz", "/readyz"] {
        assert_eq!(status(&service, page).await.0, 200, "{page}");
    }
    // The playground cannot sign: it says so instead of showing cards that would all be 403.
    let page = service.get("/", &[]).await.text().await.unwrap();
    assert!(page.contains("const signed = true;"), "the page knows");
    assert!(page.contains("takes signed URLs only"));
    let plain = Service::start();
    let page = plain.get("/", &[]).await.text().await.unwrap();
    assert!(page.contains("const signed = false;"));
}

#[test]
fn keys_are_checked_and_never_shown() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
        .arg("--help")
        .env("PYTHUMBIO_KEY", KEY)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("PYTHUMBIO_KEY") && !help.contains(KEY),
        "{help}"
    );
    for bad in ["xyz", "abc"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
            .env("PYTHUMBIO_KEY", bad)
            .output()
            .unwrap();
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("PYTHUMBIO_KEY"));
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pythumbio"))
        .args(["sign", "/thumb?url=x"])
        .env_remove("PYTHUMBIO_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "sign without a key");
}

/// A signed storyboard layout points at its sheet with a URL signed for the sheet's own path:
/// a player that follows it gets the sheet, not a 403.
#[tokio::test]
async fn a_signed_layout_links_a_signed_sheet() {
    let service = signed_service();
    let target = service.url(
        "/storyboard.vtt",
        &[("url", &media_url(Media::mp4())), ("interval", "5")],
    );
    let signed = sign_with_cli(&target[target.find("/storyboard").unwrap()..]);
    let response = reqwest::get(format!("http://{}{signed}", service.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let vtt = response.text().await.unwrap();
    let sheet = vtt
        .lines()
        .find_map(|l| l.split('#').next().filter(|u| u.starts_with("http://")))
        .unwrap_or_else(|| panic!("no sheet URL in {vtt}"));
    let path_and_query = &sheet[sheet.find("/storyboard").unwrap()..];
    assert!(path_and_query.starts_with("/storyboard.jpg?"), "{sheet}");
    let (path, query) = path_and_query.split_once('?').unwrap();
    let (query, sig_pair) = query.rsplit_once("&sig=").unwrap();
    assert_eq!(sig_pair, sig(path, query), "signed for the sheet's path");
    let response = reqwest::get(sheet).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
}

/// `sign` takes the key and salt after the subcommand as well, refuses what the service would
/// refuse to match (a full URL, a path without its slash), and its help names only what applies.
#[test]
fn the_sign_command_takes_flags_and_refuses_what_would_not_match() {
    let path = "/thumb?url=http%3A%2F%2Fh%2Fv.mp4";
    let flags = support::binary_output(&["sign", "--key", KEY, "--salt", SALT, path], &[]);
    assert_eq!(flags.trim(), sign_with_cli(path));
    for wrong in ["http://localhost:8000/thumb?url=x", "thumb?url=x"] {
        let output = support::run_binary(&["sign", "--key", KEY, wrong], &[]);
        assert_eq!(output.status.code(), Some(2), "{wrong}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("starting with /"), "{stderr}");
        assert!(output.stdout.is_empty(), "nothing printed to sign");
    }
    let help = support::binary_output(&["sign", "--help"], &[]);
    assert!(help.contains("--key") && help.contains("--salt"), "{help}");
    assert!(
        !help.contains("--port") && !help.contains("--allowed-sources"),
        "{help}"
    );
}
