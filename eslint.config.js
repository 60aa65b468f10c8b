// Lint rules for the whole tree; `npm test` runs them with the type check.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.devcluster/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Only the CLI talks to the terminal or ends the process.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'exit', message: 'Only src/cli/ may exit.' },
        { object: 'process', property: 'stdout', message: 'Only src/cli/ may print.' },
        { object: 'process', property: 'stderr', message: 'Only src/cli/ may print.' },
      ],
    },
  },
  {
    // A command turns argv into one call into src/cluster/ (or another domain module) and prints the
    // result: the hypervisor, SSH, the state folder and cloud-init are reached only through cluster/.
    files: ['src/cli/commands/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(providers|ssh|state|cloudinit)(/|$)',
              message: 'src/cli/commands/ goes through src/cluster/: no providers/, ssh/, state/ or cloudinit/ here.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', AbortController: 'readonly' } },
  },
);
