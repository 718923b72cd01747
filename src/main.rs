use clap::Parser;
use pythumbio::{
    catalog::Catalog, catalog::OutputLimits, catalog::Source, config::Command, config::Config,
    config::LogFormat, engine, http,
};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(Command::Sign { path_and_query }) = &config.command {
        let Some(signer) = config.signer() else {
            eprintln!("pythumbio: sign needs a key: --key HEX or PYTHUMBIO_KEY");
            return ExitCode::from(2);
        };
        // What the service checks is the path and query it receives: a full URL, or a path
        // without its slash, would be signed and then refused.
        if !path_and_query.starts_with('/') {
            eprintln!(
                "pythumbio: sign takes the path and query as the service sees them, starting \
                 with /: /thumb?url=https%3A%2F%2Fexample.com%2Fv.mp4, not {path_and_query:?}"
            );
            return ExitCode::from(2);
        }
        println!("{}", signer.sign(path_and_query));
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Health) = &config.command {
        return health(&config);
    }
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // The service logs to stdout; a subcommand prints its result there, so its log goes to stderr.
    let to_stderr = config.command.is_some();
    let writer = move || -> Box<dyn Write> {
        match to_stderr {
            true => Box::new(std::io::stderr()),
            false => Box::new(std::io::stdout()),
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let terminal = match to_stderr {
        true => std::io::stderr().is_terminal(),
        false => std::io::stdout().is_terminal(),
    };
    match config.log_format {
        LogFormat::Text => logs.with_ansi(terminal).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    for (name, closest) in Config::unknown_variables(std::env::vars()) {
        match closest {
            Some(known) => {
                tracing::warn!("{name} is not a setting of pythumbio; did you mean {known}?")
            }
            None => tracing::warn!("{name} is not a setting of pythumbio"),
        }
    }
    let policy = match config.source_policy() {
        Ok(policy) => policy,
        Err(e) => {
            eprintln!("pythumbio: {e}");
            return ExitCode::from(2);
        }
    };
    let origins = match pythumbio::source::origins(
        policy,
        config.origin_timeouts(),
        config.origin_cache_bytes(),
    ) {
        Ok(origins) => origins,
        Err(e) => {
            eprintln!("pythumbio: {e}");
            return ExitCode::from(2);
        }
    };
    // Sources GStreamer makes outside the service's pipelines (an HLS demuxer's playlist
    // downloader) read under the same policy.
    let _ = pythumbio::source::set_default(origins.clone());
    if let Err(e) = engine::init() {
        eprintln!("pythumbio: GStreamer does not initialise: {e}");
        return ExitCode::from(2);
    }
    let limits = OutputLimits {
        width: config.max_width as i64,
        height: config.max_height as i64,
    };
    let source = Source {
        dir: config.pipelines.clone(),
        limits,
    };
    let catalog = source.load();
    let catalog = match catalog {
        Ok(catalog) => catalog,
        Err(e) => {
            eprintln!("pythumbio: the pipeline set is broken: {e}");
            return ExitCode::from(2);
        }
    };
    match config.command {
        Some(Command::Check {
            render: None,
            values: _,
        }) => {
            report(&catalog);
            return ExitCode::SUCCESS;
        }
        Some(Command::Check {
            render: Some(route),
            values,
        }) => return render(&catalog, &route, &values),
        Some(Command::Plugins) => {
            let mut out = std::io::stdout().lock();
            let mut elements = catalog.elements();
            elements.extend(http::sample_elements());
            for file in pythumbio::engine::plugins::needed(&elements) {
                let _ = writeln!(out, "{}", file.display());
            }
            return ExitCode::SUCCESS;
        }
        Some(Command::Openapi) => {
            let document = http::openapi::document(&catalog, config.key.is_some());
            let text = serde_json::to_string_pretty(&document).expect("JSON values serialise");
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{text}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers as usize)
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let served = runtime.block_on(http::serve(&config, catalog, source, origins));
    // Responses still open are dropped with the runtime: their pipelines go to NULL. A still
    // being captured on the blocking pool is not waited for past a second.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pythumbio: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What `pythumbio check` prints for a set that passed: each route and the elements it uses.
fn report(catalog: &Catalog) {
    println!(
        "GStreamer {}: the pipeline set is good",
        engine::gstreamer_version()
    );
    for endpoint in &catalog.endpoints {
        println!(
            "{:<24} {:?} <- {} [{}]",
            endpoint.routes.join(" "),
            endpoint.kind(),
            endpoint.file,
            endpoint.elements().join(" ")
        );
    }
}

/// What `pythumbio check --render ROUTE NAME=VALUE...` prints: the pipeline that request runs,
/// as a line to paste after `gst-launch-1.0`, and on stderr what the service does around it.
fn render(catalog: &Catalog, route: &str, values: &[String]) -> ExitCode {
    let Some(found) = catalog.get(route) else {
        let routes: Vec<String> = catalog
            .endpoints
            .iter()
            .flat_map(|e| e.routes.clone())
            .collect();
        eprintln!(
            "pythumbio: no route {route}; there is: {}",
            routes.join(" ")
        );
        return ExitCode::from(2);
    };
    let mut query = Vec::new();
    for pair in values {
        let Some((name, value)) = pair.split_once('=') else {
            eprintln!("pythumbio: {pair:?} is not NAME=VALUE");
            return ExitCode::from(2);
        };
        query.push((name.to_string(), value.to_string()));
    }
    query.extend(found.preset.clone());
    let endpoint = &found.endpoint;
    let bound = match pythumbio::catalog::params::bind(&endpoint.params, &query) {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("pythumbio: {e}");
            return ExitCode::from(2);
        }
    };
    let lines = endpoint.launch_lines(&bound);
    match lines {
        Ok(lines) if lines.is_empty() => {
            eprintln!("{route} runs no pipeline of its own: GStreamer's Discoverer reads the url");
        }
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            for note in endpoint.notes(&bound) {
                eprintln!("# {note}");
            }
        }
        Err(e) => {
            eprintln!("pythumbio: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// `pythumbio health`: one GET of /healthz on the configured address, answered within 5 s.
fn health(config: &Config) -> ExitCode {
    use std::io::Read;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
    let host = match config.host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let address = SocketAddr::new(host, config.port);
    let limit = std::time::Duration::from_secs(5);
    let asked = TcpStream::connect_timeout(&address, limit).and_then(|mut stream| {
        stream.set_read_timeout(Some(limit))?;
        stream.set_write_timeout(Some(limit))?;
        write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 64];
        let n = stream.read(&mut head)?;
        Ok(String::from_utf8_lossy(&head[..n]).into_owned())
    });
    match asked {
        Ok(head) if head.starts_with("HTTP/1.1 200") => ExitCode::SUCCESS,
        Ok(head) => {
            let status = head.lines().next().unwrap_or("no answer");
            eprintln!("pythumbio health: {address}/healthz answered {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("pythumbio health: {address}: {e}");
            ExitCode::FAILURE
        }
    }
}
