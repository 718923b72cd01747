{
  description = "pythumbio: video thumbnails, streaming WebM, previews and metadata over HTTP, on GStreamer";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The plugins the pipelines use at run time, and those the tests add to make their media.
      runtimePlugins = pkgs: with pkgs.gst_all_1; [ gstreamer gst-plugins-base gst-plugins-good gst-plugins-bad gst-libav ];
      testPlugins = pkgs: with pkgs.gst_all_1; [ gst-plugins-ugly ];
      pluginPath = pkgs: plugins: pkgs.lib.makeSearchPathOutput "lib" "lib/gstreamer-1.0" plugins;

      pythumbio = pkgs: pkgs.rustPlatform.buildRustPackage {
        pname = "pythumbio";
        version = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).package.version;
        src = pkgs.lib.cleanSource ./.;
        cargoLock.lockFile = ./Cargo.lock;
        nativeBuildInputs = [ pkgs.pkg-config pkgs.makeWrapper ];
        buildInputs = with pkgs.gst_all_1; [ gstreamer gst-plugins-base ];
        # The integration tests run real pipelines over loopback HTTP.
        nativeCheckInputs = runtimePlugins pkgs ++ testPlugins pkgs;
        # The playground's browser test needs Chromium and chromedriver, which the build sandbox
        # does not run reliably; it runs in CI on Debian.
        checkFlags = [ "--skip=the_playground_shows_the_sample_in_a_real_browser" ];
        preCheck = ''
          export GST_PLUGIN_SYSTEM_PATH_1_0=${pluginPath pkgs (runtimePlugins pkgs ++ testPlugins pkgs)}
          export HOME=$TMPDIR
        '';
        postInstall = ''
          wrapProgram $out/bin/pythumbio \
            --prefix GST_PLUGIN_SYSTEM_PATH_1_0 : ${pluginPath pkgs (runtimePlugins pkgs)}
        '';
        meta = {
          description = "Video thumbnails, streaming WebM, previews and metadata over HTTP";
          mainProgram = "pythumbio";
          license = pkgs.lib.licenses.mit;
        };
      };
    in
    {
      packages = forAllSystems (pkgs: rec {
        default = pythumbio pkgs;
        # The image without a Dockerfile: `nix build .#docker && docker load < result`.
        docker = pkgs.dockerTools.buildLayeredImage {
          name = "pythumbio";
          tag = "latest";
          contents = [ default pkgs.cacert ];
          extraCommands = "mkdir -m 1777 tmp";
          config = {
            Entrypoint = [ "${default}/bin/pythumbio" ];
            ExposedPorts."8000/tcp" = { };
            User = "10001:10001";
            Env = [ "HOME=/tmp" ];
          };
        };
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.system}.default}/bin/pythumbio";
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.system}.default ];
          packages = [ pkgs.cargo pkgs.rustc pkgs.clippy pkgs.rustfmt pkgs.gst_all_1.gstreamer.bin ];
          GST_PLUGIN_SYSTEM_PATH_1_0 = pluginPath pkgs (runtimePlugins pkgs ++ testPlugins pkgs);
        };
      });

      # services.pythumbio: the service under systemd, with a dynamic user and hardening.
      nixosModules.default = { config, lib, pkgs, ... }:
        let cfg = config.services.pythumbio;
        in {
          options.services.pythumbio = {
            enable = lib.mkEnableOption "pythumbio, video thumbnails and streaming transcodes over HTTP";
            package = lib.mkOption {
              type = lib.types.package;
              default = self.packages.${pkgs.system}.default;
              description = "The pythumbio package.";
            };
            port = lib.mkOption { type = lib.types.port; default = 8000; description = "TCP port."; };
            workers = lib.mkOption { type = lib.types.ints.positive; default = 2; description = "HTTP worker threads."; };
            concurrencyPerWorker = lib.mkOption {
              type = lib.types.ints.positive;
              default = 4;
              description = "Pipelines at once per worker.";
            };
            pipelines = lib.mkOption {
              type = lib.types.nullOr lib.types.path;
              default = null;
              description = "Directory of pipeline files replacing the built-in set.";
            };
            environment = lib.mkOption {
              type = lib.types.attrsOf lib.types.str;
              default = { };
              description = "More PYTHUMBIO_* variables.";
            };
          };
          config = lib.mkIf cfg.enable {
            systemd.services.pythumbio = {
              description = "pythumbio";
              wantedBy = [ "multi-user.target" ];
              after = [ "network-online.target" ];
              wants = [ "network-online.target" ];
              environment = {
                PYTHUMBIO_PORT = toString cfg.port;
                PYTHUMBIO_WORKERS = toString cfg.workers;
                PYTHUMBIO_CONCURRENCY_PER_WORKER = toString cfg.concurrencyPerWorker;
                HOME = "/var/cache/pythumbio";
              } // lib.optionalAttrs (cfg.pipelines != null) { PYTHUMBIO_PIPELINES = toString cfg.pipelines; }
                // cfg.environment;
              serviceConfig = {
                ExecStart = "${cfg.package}/bin/pythumbio";
                # SIGHUP reloads the pipeline set.
                ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
                Restart = "on-failure";
                TimeoutStopSec = 15;
                DynamicUser = true;
                CacheDirectory = "pythumbio";
                NoNewPrivileges = true;
                ProtectSystem = "strict";
                ProtectHome = true;
                PrivateTmp = true;
                PrivateDevices = true;
                ProtectKernelTunables = true;
                ProtectKernelModules = true;
                ProtectKernelLogs = true;
                ProtectControlGroups = true;
                ProtectClock = true;
                ProtectHostname = true;
                RestrictAddressFamilies = [ "AF_INET" "AF_INET6" "AF_UNIX" ];
                RestrictNamespaces = true;
                RestrictRealtime = true;
                RestrictSUIDSGID = true;
                LockPersonality = true;
                # Not MemoryDenyWriteExecute: GStreamer's ORC compiles code at run time.
                SystemCallArchitectures = "native";
                CapabilityBoundingSet = "";
              };
            };
          };
        };

      # Building the package runs the whole test suite.
      checks = forAllSystems (pkgs: { default = self.packages.${pkgs.system}.default; });
    };
}
