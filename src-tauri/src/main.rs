//! The ccscope desktop app: the same service `ccscope serve` runs (OTLP receiver, SQLite store,
//! dashboard) started in-process, its dashboard shown in the window, and a tray icon with
//! today's spend, open / pause-resume / launch-at-login / quit. Closing the window keeps the
//! receiver running in the tray; a second launch focuses the first; crossing a daily or monthly
//! budget (set in the dashboard) raises a native notification once.
//!
//! The window shows a page served by ccscope's own loopback server, which gets no access to
//! Tauri commands (see capabilities/main.json): everything native happens here, in Rust.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use ccscope_receiver::{Limits, ReceiverConfig};
use ccscope_server::budgets::{self, Announcer};
use ccscope_server::{Service, ServiceConfig};
use ccscope_store::{Reader, Retention};
use tauri::menu::{CheckMenuItem, CheckMenuItemBuilder, MenuBuilder, MenuItem, MenuItemBuilder};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_autostart::{MacosLauncher, ManagerExt as _};
use tauri_plugin_dialog::{DialogExt, MessageDialogKind};
use tauri_plugin_notification::NotificationExt;

/// The dashboard window's label.
const MAIN_WINDOW: &str = "main";
/// Passed by the login item: start in the tray without opening the window.
const HIDDEN_FLAG: &str = "--hidden";
/// How often the tray refreshes when nothing new arrives (the day can change).
const TRAY_REFRESH: Duration = Duration::from_secs(60);
/// Coalesces commits into one tray refresh at most this often: each refresh runs a day and a
/// month report, which a busy Claude Code (commits every second) must not turn into a loop.
const TRAY_DEBOUNCE: Duration = Duration::from_secs(5);

/// Where the app listens and stores: the same resolution (variables, data directory,
/// defaults) as the CLI's, with the dashboard on a free loopback port (only this window, which
/// holds the launch token, uses it).
type Settings = ccscope_server::config::Resolved;

fn settings_from_env() -> anyhow::Result<Settings> {
    Ok(ccscope_server::config::Resolved::from_env("127.0.0.1:0")?)
}

/// What the app keeps while it runs.
struct Running {
    service: Mutex<Option<Service>>,
    shutdown: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    database: PathBuf,
    /// The dashboard's launch URL, to reopen the window after it was destroyed.
    ui_url: String,
}

struct TrayItems {
    today: MenuItem<tauri::Wry>,
    pause: MenuItem<tauri::Wry>,
    autostart: CheckMenuItem<tauri::Wry>,
}

async fn start_service(
    settings: &Settings,
) -> anyhow::Result<(Service, tokio::sync::oneshot::Sender<()>)> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // CCSCOPE_SOURCE fixes what the dashboard shows (as `serve --source`); otherwise the choice
    // made on the Receiver page (saved in the data directory) applies.
    let source = match std::env::var(ccscope_server::config::ENV_SOURCE) {
        Ok(spec) if !spec.trim().is_empty() => {
            Some(ccscope_server::source::DataSource::clickhouse(
                spec.trim(),
                None,
                std::env::var(ccscope_server::config::ENV_CLICKHOUSE_PASSWORD).ok(),
                ccscope_server::config::clickhouse_ca_from_env(),
            )?)
        }
        _ => None,
    };
    let config = ServiceConfig {
        database: settings.data_dir.join(ccscope_store::DATABASE_FILE),
        receiver: ReceiverConfig {
            grpc: Some(settings.grpc),
            http: Some(settings.http),
            token: None,
            limits: Limits::default(),
        },
        retention: Retention::default(),
        ui: Some(settings.ui),
        source,
    };
    let service = Service::start(config, async move {
        let _ = stop_rx.await;
    })
    .await
    .context("cannot start the receiver (is `ccscope serve` already running? set CCSCOPE_OTLP_GRPC / CCSCOPE_OTLP_HTTP to use other ports)")?;
    Ok((service, stop_tx))
}

fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    } else if let Some(running) = app.try_state::<Running>() {
        // The window was destroyed (not just hidden): open a new one.
        if let Err(error) = open_window(app, &running.ui_url, true) {
            tracing::warn!(error = %format!("{error:#}"), "cannot reopen the window");
        }
    }
}

fn open_window(app: &AppHandle, url: &str, visible: bool) -> anyhow::Result<()> {
    let url = url.parse().context("the dashboard address is not a URL")?;
    let window = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::External(url))
        .title("ccscope")
        .inner_size(1320.0, 880.0)
        .min_inner_size(820.0, 560.0)
        .visible(visible)
        .build()
        .context("cannot open the window")?;
    use tauri_plugin_window_state::{StateFlags, WindowExt};
    let _ = window.restore_state(StateFlags::all());
    if visible {
        let _ = window.show();
    }
    Ok(())
}

fn build_tray(app: &AppHandle) -> anyhow::Result<(TrayIcon, TrayItems)> {
    let today = MenuItemBuilder::with_id("today", "Today: –")
        .enabled(false)
        .build(app)?;
    let open = MenuItemBuilder::with_id("open", "Open ccscope").build(app)?;
    let pause = MenuItemBuilder::with_id("pause", "Pause receiver").build(app)?;
    let autostart = CheckMenuItemBuilder::with_id("autostart", "Launch at login")
        .checked(app.autolaunch().is_enabled().unwrap_or(false))
        .build(app)?;
    let quit = MenuItemBuilder::with_id("quit", "Quit ccscope").build(app)?;
    let menu = MenuBuilder::new(app)
        .item(&today)
        .separator()
        .item(&open)
        .item(&pause)
        .item(&autostart)
        .separator()
        .item(&quit)
        .build()?;
    let mut builder = TrayIconBuilder::with_id("main")
        .menu(&menu)
        .tooltip("ccscope")
        .show_menu_on_left_click(true);
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let tray = builder
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_window(app),
            "pause" => toggle_pause(app),
            "autostart" => toggle_autostart(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok((
        tray,
        TrayItems {
            today,
            pause,
            autostart,
        },
    ))
}

fn toggle_pause(app: &AppHandle) {
    let running = app.state::<Running>();
    let Ok(guard) = running.service.lock() else {
        return;
    };
    let Some(service) = guard.as_ref() else {
        return;
    };
    let paused = !service.is_paused();
    service.set_paused(paused);
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items.pause.set_text(if paused {
            "Resume receiver"
        } else {
            "Pause receiver"
        });
    }
    let _ = app
        .notification()
        .builder()
        .title(if paused { "ccscope receiver paused" } else { "ccscope receiver resumed" })
        .body(if paused {
            "Claude Code's exports are answered \"retry later\" and kept by Claude Code until you resume."
        } else {
            "Receiving Claude Code's telemetry again."
        })
        .show();
}

fn toggle_autostart(app: &AppHandle) {
    let launcher = app.autolaunch();
    let enabled = launcher.is_enabled().unwrap_or(false);
    let result = if enabled {
        launcher.disable()
    } else {
        launcher.enable()
    };
    if let Err(error) = result {
        tracing::warn!(%error, "cannot change launch at login");
    }
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items
            .autostart
            .set_checked(launcher.is_enabled().unwrap_or(false));
    }
}

/// Refreshes the tray with today's spend and announces budgets crossed, after each commit
/// (debounced) and every minute.
fn spawn_tray_updates(
    app: AppHandle,
    tray: TrayIcon,
    mut commits: tokio::sync::broadcast::Receiver<ccscope_store::Committed>,
) {
    tauri::async_runtime::spawn(async move {
        let mut announcer = Announcer::default();
        loop {
            let database = app.state::<Running>().database.clone();
            let status =
                tauri::async_runtime::spawn_blocking(move || -> anyhow::Result<budgets::Status> {
                    let limits = budgets::load(&database)?;
                    let reader = Reader::open(&database)?;
                    Ok(budgets::status(&reader, &limits, chrono::Local::now())?)
                })
                .await;
            match status {
                Ok(Ok(status)) => {
                    let label = budgets::tray_label(&status);
                    let _ = tray.set_title(Some(&label.title));
                    let _ = tray.set_tooltip(Some(&label.tooltip));
                    if let Some(items) = app.try_state::<TrayItems>() {
                        let _ = items.today.set_text(&label.menu);
                    }
                    for crossing in announcer.check(&status) {
                        if let Err(error) = app
                            .notification()
                            .builder()
                            .title(&crossing.title)
                            .body(&crossing.body)
                            .show()
                        {
                            tracing::warn!(%error, "cannot show a notification");
                        }
                    }
                }
                Ok(Err(error)) => {
                    tracing::warn!(error = %format!("{error:#}"), "cannot read today's spend")
                }
                Err(error) => tracing::warn!(%error, "tray update failed"),
            }
            tokio::select! {
                received = commits.recv() => {
                    if matches!(received, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                    tokio::time::sleep(TRAY_DEBOUNCE).await;
                    while commits.try_recv().is_ok() {}
                }
                () = tokio::time::sleep(TRAY_REFRESH) => {}
            }
        }
    });
}

fn setup(app: &mut tauri::App, settings: Settings, hidden: bool) -> anyhow::Result<()> {
    let handle = app.handle().clone();
    let (service, shutdown) = tauri::async_runtime::block_on(start_service(&settings))?;
    let ui_url = service
        .ui_url
        .clone()
        .context("the dashboard did not start")?;
    for (name, addr) in [
        ("OTLP/gRPC", service.grpc_addr),
        ("OTLP/HTTP", service.http_addr),
    ] {
        if let Some(addr) = addr {
            println!("{name}  listening on {addr}");
        }
    }
    println!("database   {}", service.database().display());
    let commits = service.writer().changes().subscribe();
    app.manage(Running {
        database: service.database().to_path_buf(),
        service: Mutex::new(Some(service)),
        shutdown: Mutex::new(Some(shutdown)),
        ui_url: ui_url.clone(),
    });
    spawn_signal_handler(handle.clone());
    open_window(&handle, &ui_url, !hidden)?;
    let (tray, items) = build_tray(&handle)?;
    app.manage(items);
    spawn_tray_updates(handle, tray, commits);
    Ok(())
}

/// SIGTERM (a logout, `systemctl`, `kill`) and Ctrl-C quit like the tray's Quit: the receiver
/// answers what is in flight and the store commits before the process ends.
fn spawn_signal_handler(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("quitting on a signal");
        app.exit(0);
    });
}

/// Stops the receiver after answering what is in flight, and lets the store commit.
fn stop_service(app: &AppHandle) {
    let Some(running) = app.try_state::<Running>() else {
        return;
    };
    if let Some(tx) = running.shutdown.lock().ok().and_then(|mut s| s.take()) {
        let _ = tx.send(());
    }
    let service = running.service.lock().ok().and_then(|mut s| s.take());
    if let Some(service) = service {
        let paused = service.pause_switch();
        paused.store(true, Ordering::Relaxed);
        let stats = tauri::async_runtime::block_on(service.stopped());
        tracing::info!(exports = stats.exports_accepted, "ccscope stopped");
    }
}

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CCSCOPE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let hidden = std::env::args().any(|a| a == HIDDEN_FLAG);
    let settings = match settings_from_env() {
        Ok(s) => s,
        Err(error) => {
            eprintln!("ccscope: {error:#}");
            std::process::exit(2);
        }
    };
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_window(app)
        }))
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_FLAG]),
        ))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .setup(move |app| {
            if let Err(error) = setup(app, settings, hidden) {
                let message = format!("{error:#}");
                tracing::error!(%message, "ccscope cannot start");
                app.dialog()
                    .message(message)
                    .title("ccscope cannot start")
                    .kind(MessageDialogKind::Error)
                    .blocking_show();
                std::process::exit(1);
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps ccscope receiving in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == MAIN_WINDOW
            {
                use tauri_plugin_window_state::{AppHandleExt, StateFlags};
                let _ = window.app_handle().save_window_state(StateFlags::all());
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("ccscope: cannot start the app: {error}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| match event {
        // The last window went away (closed by the system or a test driver): keep receiving in
        // the tray. Only Quit (an explicit exit code) ends the app.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => stop_service(handle),
        _ => {}
    });
}
