// Lint rules for the whole tree. Import boundaries follow the dependency rule of the design:
// shared <- faastore <- worker; shared <- master; master and worker never import each other.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The product (everything that builds into dist/ and the `faasflow` bin) never imports test code:
// every product folder gets this group on top of its own boundary.
const TEST_CODE = {
  group: ['**/test/**', '**/*.test.js', '**/*.test.ts'],
  message: 'product code never imports test code (test/ is not built into dist)',
};
const forbid = (patterns, message) => ({
  'no-restricted-imports': [
    'error',
    { patterns: [...(patterns.length > 0 ? [{ group: patterns, message }] : []), TEST_CODE] },
  ],
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.bench/**',
      'test/fixtures/**',
      'deploy/examples/**',
      'bench/data/**',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: forbid(
      ['**/master/**', '**/worker/**', '**/faastore/**', '**/deploy/**'],
      'shared imports nothing of ours',
    ),
  },
  {
    files: ['faastore/**/*.ts'],
    rules: forbid(['**/master/**', '**/worker/**', '**/deploy/**'], 'faastore imports only shared'),
  },
  {
    files: ['worker/**/*.ts'],
    rules: forbid(['**/master/**', '**/deploy/**'], 'worker never imports master'),
  },
  {
    files: ['master/**/*.ts'],
    rules: forbid(
      ['**/worker/**', '**/faastore/**', '**/deploy/**'],
      'master never imports worker or faastore',
    ),
  },
  { files: ['deploy/**/*.ts', 'bench/**/*.ts'], rules: forbid([], '') },
  {
    files: ['deploy/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    // Tests poke at JSON answers; typing every body would add noise, not safety.
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
