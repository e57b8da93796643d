import pg from 'pg';

/** The channel on which PostgreSQL announces, at commit, every runtime whose configVersion changed (migration 006). */
export const CONFIG_CHANNEL = 'meridian_runtime_config';

export interface ConfigChannelListener {
  end(): Promise<void>;
}

/**
 * LISTENs on {@link CONFIG_CHANNEL} over a dedicated connection (a pooled one would be handed to
 * others): `onRuntime` hears the id of every runtime with a new configVersion, `onError` a lost connection
 * (which is then closed; the caller decides whether to listen again).
 */
export async function listenForConfigChanges(
  pool: pg.Pool,
  onRuntime: (runtimeId: string) => void,
  onError: (error: Error) => void,
): Promise<ConfigChannelListener> {
  const client = new pg.Client({ connectionString: pool.options.connectionString });
  client.on('notification', ({ payload }) => payload && onRuntime(payload));
  client.on('error', (error) => {
    void client.end().catch(() => undefined);
    onError(error);
  });
  try {
    await client.connect();
    await client.query(`LISTEN ${CONFIG_CHANNEL}`);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return { end: () => client.end().catch(() => undefined) };
}
