/**
 * Whether the friendly REPL asks for another line (`... `) before running what
 * was typed: the rules of mp_repl_continue_with_input in py/repl.c. They are a
 * cheap heuristic, not a parse: comments are not recognised, and a compound
 * statement is recognised only by the keyword the input starts with.
 */

const COMPOUND_KEYWORDS = ['if', 'while', 'for', 'try', 'with', 'def', 'class', 'async'];

enum Quote {
  None,
  Single,
  Double,
  TripleSingle,
  TripleDouble,
}

/** `input` holds every line typed so far, joined with `\n`. */
export function needsContinuation(input: string): boolean {
  if (input.length === 0) return false;

  const { openBrackets, quote } = scanBracketsAndQuotes(input);
  if (quote === Quote.TripleSingle || quote === Quote.TripleDouble) return true;
  if (openBrackets && quote === Quote.None) return true;

  const last = input[input.length - 1];
  if (last === '\\') return true;
  // A compound statement goes on until an empty line ends it.
  return startsCompoundStatement(input) && last !== '\n';
}

function startsCompoundStatement(input: string): boolean {
  return input[0] === '@' || COMPOUND_KEYWORDS.some((keyword) => startsWithWord(input, keyword));
}

function startsWithWord(input: string, word: string): boolean {
  if (!input.startsWith(word)) return false;
  const next = input[word.length];
  return next === undefined || !/[A-Za-z0-9_]/.test(next);
}

function scanBracketsAndQuotes(input: string): { openBrackets: boolean; quote: Quote } {
  let parens = 0;
  let brackets = 0;
  let braces = 0;
  let quote = Quote.None;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch === "'" || ch === '"') {
      const single = ch === "'" ? Quote.Single : Quote.Double;
      const triple = ch === "'" ? Quote.TripleSingle : Quote.TripleDouble;
      if ((quote === Quote.None || quote === triple) && input[i + 1] === ch && input[i + 2] === ch) {
        i += 2;
        quote = quote === triple ? Quote.None : triple;
      } else if (quote === Quote.None || quote === single) {
        quote = quote === single ? Quote.None : single;
      }
    } else if (ch === '\\' && (input[i + 1] === "'" || input[i + 1] === '"' || input[i + 1] === '\\')) {
      if (quote !== Quote.None) i++;
    } else if (quote === Quote.None) {
      if (ch === '(') parens++;
      else if (ch === ')') parens--;
      else if (ch === '[') brackets++;
      else if (ch === ']') brackets--;
      else if (ch === '{') braces++;
      else if (ch === '}') braces--;
    }
  }
  return { openBrackets: parens > 0 || brackets > 0 || braces > 0, quote };
}
