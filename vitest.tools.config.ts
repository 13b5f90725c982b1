import { defineConfig } from 'vitest/config';

// Tools that need TypeScript run by vitest but are not tests (npm run docs:screenshots).
export default defineConfig({
  test: { include: ['test/tools/**/*.tool.ts'], testTimeout: 300_000, hookTimeout: 60_000 },
});
