// node-oidc-provider, configured as the peer of scripts/bench_throughput: one confidential client allowed the
// client_credentials grant (client_secret_basic), introspection enabled, the default in-memory adapter, no logs.
// Usage: node server.js PORT   (the token endpoint is /token, introspection /token/introspection)
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 9100);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: 'bench-client',
      client_secret: 'bench-client-secret-bench-client-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'read',
    },
  ],
  scopes: ['read'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
});
// Errors are answered to the client; keep the console quiet as Tessera's runner is under RUST_LOG=warn.
provider.on('server_error', (_ctx, error) => console.error(error));
provider.listen(port, '127.0.0.1', () => console.error(`oidc-provider listening on 127.0.0.1:${port}`));
