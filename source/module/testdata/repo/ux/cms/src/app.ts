// The CMS application entry point.
export function title(name: string): string {
  if (name.length === 0) {
    return "untitled";
  }
  return name.trim();
}

/* A block comment
   over two lines. */
export const version = "0.3.1";
