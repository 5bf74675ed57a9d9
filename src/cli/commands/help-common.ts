/** Help lines for the options every client command shares. */
export const RPC_OPTIONS_HELP = `  -rpc-addr=127.0.0.1:7373  Address (host:port) of the agent's RPC listener.
                            Defaults to $SERF_RPC_ADDR when that is set.

  -rpc-auth=""              Token sent to authenticate with the agent's RPC
                            listener. Defaults to $SERF_RPC_AUTH.`;
