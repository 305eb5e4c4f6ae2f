/**
 * `bulkport import`'s option flags, made from the option schemas (common/options.ts and each target's manifest): a
 * flag per option (`--chunk-size` for chunkSize; a nested object's fields are flags of their own), help from
 * `.describe()`, defaults from the schema, and a switch where the manifest names one (`--isolated-quota`). A target's
 * own flags say whose they are, and given with another target they are an error rather than ignored.
 */
import { Option } from 'commander';
import { commonOptions } from '../../common/options';
import type { TargetName } from '../../common/import';
import type { TargetManifest } from '../../targets/manifest';
import { manifests } from '../../targets/manifests';
import { CliError, kebab } from './errors';
import { commaList, integer } from './output';

/** The parts of a zod v4 schema the flags are made from. */
interface Introspected {
  description?: string;
  shape?: Record<string, unknown>;
  options?: readonly string[];
  def: { type: string; innerType?: unknown; defaultValue?: unknown };
}

const look = (schema: unknown) => schema as Introspected;

/** The schema under `.optional()` and `.default()`, with the description and default found on the way. */
function unwrap(schema: unknown): { inner: Introspected; description?: string; defaultValue?: unknown } {
  let s = look(schema);
  let description = s.description;
  let defaultValue: unknown;
  while ((s.def.type === 'default' || s.def.type === 'optional') && s.def.innerType) {
    if (s.def.type === 'default') defaultValue = s.def.defaultValue;
    s = look(s.def.innerType);
    description ??= s.description;
  }
  return { inner: s, description, defaultValue };
}

export interface OptionFlag {
  /** Where its value goes in the options: ['chunkSize'], ['directives', 'skipIfNotEmpty']. */
  path: string[];
  /** The targets that take it. */
  targets: TargetName[];
  option: Option;
  /** What a switch sets; else the flag's own value. */
  sets?: unknown;
}

const show = (value: unknown) =>
  Array.isArray(value) ? value.join(',') : typeof value === 'number' ? value.toLocaleString('en-US') : String(value);

function flagOf(key: string, schema: unknown, help: string): Option {
  const { inner } = unwrap(schema);
  const name = `--${kebab(key)}`;
  switch (inner.def.type) {
    case 'number':
      return new Option(`${name} <n>`, help).argParser(integer);
    case 'array':
      return new Option(`${name} <list>`, help).argParser(commaList);
    case 'boolean':
      return new Option(name, help);
    case 'enum':
      return new Option(`${name} <value>`, help).choices(inner.options ?? []);
    default:
      return new Option(`${name} <value>`, help);
  }
}

/** "(default 4; Propeller: 16)": the common default, and each target's own where it differs. */
function defaultsText(path: string[], targets: readonly TargetManifest[]): string {
  const valueIn = (m: TargetManifest) =>
    path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], m.options.parse({}));
  const values = targets.map((m) => ({ title: m.title, value: valueIn(m) })).filter((v) => v.value !== undefined);
  if (values.length === 0) return '';
  const base =
    path.length === 1 && path[0]! in commonOptions ? unwrap(commonOptions[path[0] as keyof typeof commonOptions]).defaultValue : undefined;
  const common = base ?? values[0]!.value;
  const others = values.filter((v) => show(v.value) !== show(common));
  if (typeof common === 'boolean' && others.length === 0) return '';
  return ` (default ${show(common)}${others.map((v) => `; ${v.title}: ${show(v.value)}`).join('')})`;
}

/** The flags of the given targets' options (all of bulkport's by default); exported for tests with a made-up target. */
export function buildFlags(list: readonly TargetManifest[] = manifests): OptionFlag[] {
  const byPath = new Map<string, { path: string[]; schema: unknown; targets: TargetName[] }>();
  // Two targets may share a switch (same flag, same option, same value): one flag, taken by both.
  const switches = new Map<string, { path: string[]; targets: TargetName[]; sets: unknown; help: string; titles: string[] }>();
  for (const m of list) {
    const name = m.name as TargetName;
    for (const [key, schema] of Object.entries(m.options.shape)) {
      const s = m.switches?.[key];
      if (s) {
        const entry = switches.get(s.flag) ?? { path: [key], targets: [], sets: s.sets, help: s.help, titles: [] };
        entry.targets.push(name);
        entry.titles.push(m.title);
        switches.set(s.flag, entry);
        continue;
      }
      const { inner } = unwrap(schema);
      const fields =
        inner.def.type === 'object' && inner.shape
          ? Object.entries(inner.shape).map(([k, v]) => [[key, k], v] as const)
          : [[[key], schema] as const];
      for (const [path, fieldSchema] of fields) {
        const id = path.join('.');
        const entry = byPath.get(id) ?? { path: [...path], schema: fieldSchema as unknown, targets: [] as TargetName[] };
        entry.targets.push(name);
        byPath.set(id, entry);
      }
    }
  }
  const flags = [...byPath.values()].map(({ path, schema, targets }) => {
    const common = path.length === 1 && path[0]! in commonOptions;
    const description = unwrap(common ? commonOptions[path[0] as keyof typeof commonOptions] : schema).description ?? '';
    const takers = list.filter((m) => targets.includes(m.name as TargetName));
    const owners = common ? '' : `${takers.map((m) => m.title).join(', ')}: `;
    const help = `${owners}${description}${defaultsText(path, takers)}`;
    return { path, targets, option: flagOf(path.at(-1)!, schema, help) };
  });
  const switchFlags = [...switches].map(([flag, { path, targets, sets, help, titles }]) => ({
    path,
    targets,
    sets,
    option: new Option(`--${flag}`, `${titles.join(', ')}: ${help}`),
  }));
  return [...flags, ...switchFlags];
}

/** Every option flag of `bulkport import`, common ones first. */
export const optionFlags: readonly OptionFlag[] = buildFlags();

/** The options the given flags describe for the target; a flag of another target is an error. */
export function optionsFromFlags(
  target: TargetName,
  flags: Record<string, unknown>,
  known: readonly OptionFlag[] = optionFlags,
): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const f of known) {
    const value = flags[f.option.attributeName()];
    if (value === undefined) continue;
    if (!f.targets.includes(target)) {
      throw new CliError(`${f.option.long} applies to --target ${f.targets.join(' or ')} only: drop it, or use --target ${f.targets[0]}`);
    }
    let node = options;
    for (const key of f.path.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    node[f.path.at(-1)!] = f.sets ?? value;
  }
  return options;
}
