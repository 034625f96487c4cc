/**
 * The `listen(port | { port, host }, host?, callback?)` overloads that the relay and the metrics
 * server take, as net.Server does, read once into options and a callback.
 */

export type ListenOptions = { port: number; host?: string };

export function listenArgs(
  portOrOptions: number | ListenOptions,
  hostOrCb?: string | (() => void),
  cb?: () => void,
): { readonly options: ListenOptions; readonly callback: (() => void) | undefined } {
  const options: ListenOptions = typeof portOrOptions === 'number' ? { port: portOrOptions } : { ...portOrOptions };
  if (typeof hostOrCb === 'string') options.host = hostOrCb;
  return { options, callback: typeof hostOrCb === 'function' ? hostOrCb : cb };
}
