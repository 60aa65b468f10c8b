/**
 * XML from typed data: elements are values, and every attribute and text is escaped on output, so
 * nothing from a config (a path with quotes, a name with &) can change the document's structure.
 */
export interface XmlElement {
  name: string;
  attrs?: Record<string, string | number | boolean | undefined>;
  children?: Array<XmlElement | string | undefined | false>;
}

export function el(name: string, attrs?: XmlElement['attrs'], ...children: Array<XmlElement | string | undefined | false>): XmlElement {
  return { name, ...(attrs ? { attrs } : {}), children };
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function renderXml(element: XmlElement, indent = ''): string {
  const attrs = Object.entries(element.attrs ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  const children = (element.children ?? []).filter((c): c is XmlElement | string => c !== undefined && c !== false);
  if (children.length === 0) return `${indent}<${element.name}${attrs}/>`;
  if (children.every((c) => typeof c === 'string')) {
    return `${indent}<${element.name}${attrs}>${escapeXml(children.join(''))}</${element.name}>`;
  }
  const inner = children.map((c) => (typeof c === 'string' ? `${indent}  ${escapeXml(c)}` : renderXml(c, `${indent}  `))).join('\n');
  return `${indent}<${element.name}${attrs}>\n${inner}\n${indent}</${element.name}>`;
}
