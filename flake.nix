{
  description = "pythumbio: video thumbnails, streaming WebM, previews and metadata over HTTP, on GStreamer";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The plugins the pipelines use at run time, and those the tests add to make their media.
      runtimePlugins = pkgs: with pkgs.gst_all_1; [ gstreamer gst-plugins-base gst-plugins-good gst-libav ];
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
      packages = forAllSystems (pkgs: { default = pythumbio pkgs; });

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

      # Building the package runs the whole test suite.
      checks = forAllSystems (pkgs: { default = self.packages.${pkgs.system}.default; });
    };
}
