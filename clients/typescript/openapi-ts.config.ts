import { defineConfig } from '@hey-api/openapi-ts';

// One input, the committed spec; the output is committed too (`make client` regenerates both).
export default defineConfig({
  input: '../../openapi/openapi.json',
  output: {
    path: 'src/generated',
    postProcess: [],
  },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
});
