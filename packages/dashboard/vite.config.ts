import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The build goes into the server package, which serves it at `/` (packages/server/src/api/routes/dashboard.ts).
// `npm run dev -w @berth/dashboard` serves it with hot reload, proxying the API to a local `berth serve`.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../server/assets/dashboard',
    emptyOutDir: true,
    // No data: URLs or inline assets: everything is a file from this origin (the CSP says 'self').
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/v1': { target: process.env.BERTH_URL ?? 'http://127.0.0.1:7420', ws: true },
      '/healthz': { target: process.env.BERTH_URL ?? 'http://127.0.0.1:7420' },
    },
  },
});
