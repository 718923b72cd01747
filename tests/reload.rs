//! The pipeline set reloads without a restart: on SIGHUP and when its directory changes. A
//! broken set is rejected and the old one stays; running streams keep their pipelines.

mod support;

use std::time::Duration;
use support::media::Media;
use support::{inspect, media_url, Service};

/// A pipeline file: a PNG of the frame at `start` seconds, at `route`.
fn frame_file(route: &str, start: f64) -> String {
    format!(
        r#"routes = ["{route}"]
kind = "still"
content_type = "image/png"
start = {start:.1}
description = """
uridecodebin name=src
src. ! video/x-raw ! videoscale ! video/x-raw,width=64,height=64 ! videoconvert ! video/x-raw,format=RGB ! pngenc ! appsink name=sink
"""
[params.url]
type = "url"
required = true
role = "source"
to = "src.uri"
"#
    )
}

fn pipelines_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("one.toml"), frame_file("/one", 1.0)).unwrap();
    std::fs::write(
        dir.path().join("webm.toml"),
        include_str!("../pipelines/webm.toml"),
    )
    .unwrap();
    dir
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sighup_and_directory_changes_reload_the_set() {
    let dir = pipelines_dir();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    let url = media_url(Media::mp4());
    let params = [("url", url.as_str())];
    assert_eq!(service.get("/one", &params).await.status(), 200);
    assert_eq!(service.get("/two", &params).await.status(), 404);

    // A new file: the directory watch picks it up, no signal needed.
    std::fs::write(dir.path().join("two.toml"), frame_file("/two", 2.0)).unwrap();
    assert!(
        service.wait_for_status("/two", &params, 200, WAIT).await,
        "{}",
        service.log_text()
    );

    // SIGHUP reloads too: a removed file's route goes away.
    std::fs::remove_file(dir.path().join("one.toml")).unwrap();
    service.signal("HUP");
    assert!(service.wait_for_status("/one", &params, 404, WAIT).await);
    assert_eq!(service.get("/two", &params).await.status(), 200);
    assert!(service.log_text().contains("pipeline set reloaded"));
}

#[tokio::test]
async fn a_broken_set_is_rejected_and_the_old_one_stays() {
    let dir = pipelines_dir();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    let url = media_url(Media::mp4());
    let params = [("url", url.as_str())];
    let broken = frame_file("/broken", 1.0).replace("pngenc", "nosuchenc");
    std::fs::write(dir.path().join("broken.toml"), broken).unwrap();
    std::fs::write(dir.path().join("three.toml"), frame_file("/three", 3.0)).unwrap();
    service.signal("HUP");
    let started = std::time::Instant::now();
    while !service.log_text().contains("rejected") {
        assert!(started.elapsed() < WAIT, "{}", service.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = service.log_text();
    assert!(
        log.contains("broken.toml") && log.contains("nosuchenc"),
        "the log says why: {log}"
    );
    assert!(service.metric("pythumbio_reload_failures_total").await >= 1.0);
    assert_eq!(service.metric("pythumbio_reloads_total").await, 0.0);
    // Nothing of the broken set is served: the old set is whole.
    assert_eq!(service.get("/three", &params).await.status(), 404);
    assert_eq!(service.get("/one", &params).await.status(), 200);
}

#[tokio::test]
async fn a_running_stream_keeps_its_pipeline_through_a_reload() {
    let dir = pipelines_dir();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    let url = media_url(Media {
        frames: 900,
        ..Media::mp4()
    });
    let mut response = service.get("/webm", &[("url", &url)]).await;
    let mut body = response.chunk().await.unwrap().unwrap().to_vec();
    // The endpoint goes away mid-stream.
    std::fs::remove_file(dir.path().join("webm.toml")).unwrap();
    service.signal("HUP");
    assert!(
        service
            .wait_for_status("/webm", &[("url", &url)], 404, WAIT)
            .await
    );
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    assert_eq!(
        inspect(&body, "webm").frames.len(),
        900,
        "the stream ran to its end"
    );
}

#[tokio::test]
async fn sighup_alone_reloads_the_built_in_set() {
    let service = Service::start();
    service.signal("HUP");
    let started = std::time::Instant::now();
    while !(service.log_text().contains("pipeline set reloaded")
        && service.log_text().contains("SIGHUP"))
    {
        assert!(started.elapsed() < WAIT, "{}", service.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = media_url(Media::mp4());
    assert_eq!(service.get("/thumb", &[("url", &url)]).await.status(), 200);
}

/// A directory laid out as Kubernetes mounts a ConfigMap: each file a link into `..data`, itself
/// a link to the current version's directory, swapped whole when the ConfigMap changes. The
/// swap is seen and reloads the set.
#[tokio::test]
async fn a_configmap_update_reloads_the_set() {
    let dir = tempfile::tempdir().unwrap();
    let version = |name: &str, files: &[(&str, String)]| {
        let at = dir.path().join(name);
        std::fs::create_dir(&at).unwrap();
        for (file, text) in files {
            std::fs::write(at.join(file), text).unwrap();
        }
    };
    version("..v1", &[("frames.toml", frame_file("/one", 1.0))]);
    std::os::unix::fs::symlink("..v1", dir.path().join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/frames.toml", dir.path().join("frames.toml")).unwrap();
    let service = Service::with_env(&[("PYTHUMBIO_PIPELINES", dir.path().to_str().unwrap())]);
    let url = media_url(Media::mp4());
    let params = [("url", url.as_str())];
    assert_eq!(service.get("/one", &params).await.status(), 200);

    // The kubelet's update: the new version beside the old, then `..data` renamed over.
    version("..v2", &[("frames.toml", frame_file("/renamed", 1.0))]);
    std::os::unix::fs::symlink("..v2", dir.path().join("..data_tmp")).unwrap();
    std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).unwrap();
    assert!(
        service
            .wait_for_status("/renamed", &params, 200, WAIT)
            .await,
        "{}",
        service.log_text()
    );
    assert_eq!(service.get("/one", &params).await.status(), 404);
}
