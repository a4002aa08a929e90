import { defineConfig } from "vite";

// Built once into ui/dist and embedded in the ccscope binary (crates/server/src/assets.rs).
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
