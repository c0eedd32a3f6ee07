import { parseAllDocuments, stringify } from 'yaml';
import { ContextValidationError, parseContext, type BusinessContext } from './schema.js';

/** Contexts as YAML, one document per context (`---` between), for `context export/import`. */
export function contextsToYaml(docs: readonly BusinessContext[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

/** Parses and validates every context in a YAML text; errors name the document and field. */
export function contextsFromYaml(text: string): BusinessContext[] {
  const docs = parseAllDocuments(text);
  const out: BusinessContext[] = [];
  const errors: { path: string; message: string }[] = [];
  docs.forEach((doc, i) => {
    const prefix = docs.length > 1 ? `document ${i + 1}: ` : '';
    if (doc.errors.length) {
      for (const e of doc.errors) {
        const where = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : 'YAML';
        errors.push({ path: `${prefix}${where}`, message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') });
      }
      return;
    }
    try {
      out.push(parseContext(doc.toJS()));
    } catch (e) {
      if (!(e instanceof ContextValidationError)) throw e;
      for (const fe of e.errors) errors.push({ path: `${prefix}${fe.path}`, message: fe.message });
    }
  });
  if (errors.length) throw new ContextValidationError(errors);
  if (out.length === 0) throw new ContextValidationError([{ path: '(file)', message: 'no context in file' }]);
  return out;
}
