/** A file of a target's folder, loaded by the target's name: its default export, or an error that names the file. */
export async function defaultExport<T>(
  module: Promise<{ default?: unknown }>,
  file: string,
  what: string,
  isValid: (value: unknown) => boolean,
): Promise<T> {
  const { default: value } = await module;
  if (!isValid(value)) throw new Error(`targets/${file} must export its ${what} as default: see "Adding a target" in the README`);
  return value as T;
}
