package org.ntk4j.io;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parser for the subset of Python literal syntax that {@code .npy} headers use (what NumPy reads with
 * {@code ast.literal_eval}): dicts, tuples, lists, single- or double-quoted strings, integers (with the
 * {@code L} suffix that Python 2 wrote), {@code True}, {@code False}, {@code None} and {@code #} comments.
 *
 * <p>Values map to Java as: dict to {@link Map} (insertion order), tuple to {@link Tuple}, list to {@link PyList},
 * string to {@link String}, integer to {@link BigInteger}, booleans to {@link Boolean}, None to {@link #NONE}.
 */
final class PyLiteral {
    /** A Python tuple. */
    record Tuple(List<Object> items) {
    }

    /** A Python list. */
    record PyList(List<Object> items) {
    }

    /** Python's {@code None}. */
    static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    /** A syntax error at a character offset of the text. */
    static final class SyntaxError extends Exception {
        private static final long serialVersionUID = 1L;

        SyntaxError(String message) {
            super(message);
        }
    }

    private static final int MAX_DEPTH = 32;

    /** Python source text for a parsed value (for error messages). */
    static String repr(Object value) {
        StringBuilder sb = new StringBuilder();
        repr(value, sb);
        return sb.toString();
    }

    private static void repr(Object value, StringBuilder sb) {
        if (value instanceof String) {
            sb.append('\'').append(((String) value).replace("\\", "\\\\").replace("'", "\\'")).append('\'');
        } else if (value instanceof Boolean) {
            sb.append((Boolean) value ? "True" : "False");
        } else if (value instanceof Tuple) {
            List<Object> items = ((Tuple) value).items();
            sb.append('(');
            items(items, sb);
            if (items.size() == 1) {
                sb.append(',');
            }
            sb.append(')');
        } else if (value instanceof PyList) {
            sb.append('[');
            items(((PyList) value).items(), sb);
            sb.append(']');
        } else if (value instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                if (!first) {
                    sb.append(", ");
                }
                first = false;
                repr(e.getKey(), sb);
                sb.append(": ");
                repr(e.getValue(), sb);
            }
            sb.append('}');
        } else {
            sb.append(value);
        }
    }

    private static void items(List<Object> items, StringBuilder sb) {
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) {
                sb.append(", ");
            }
            repr(items.get(i), sb);
        }
    }

    private final String text;
    private int pos;

    private PyLiteral(String text) {
        this.text = text;
    }

    /** Parses {@code text}, which must hold exactly one literal (surrounding whitespace allowed). */
    static Object parse(String text) throws SyntaxError {
        PyLiteral p = new PyLiteral(text);
        Object value = p.value(0);
        p.skipSpace();
        if (p.pos != text.length()) {
            throw p.error("unexpected text after the end of the literal");
        }
        return value;
    }

    private Object value(int depth) throws SyntaxError {
        if (depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH);
        }
        skipSpace();
        if (pos >= text.length()) {
            throw error("unexpected end of header");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return dict(depth);
            case '(':
                return tuple(depth);
            case '[':
                pos++;
                return new PyList(sequence(']', depth));
            case '\'':
            case '"':
                return string();
            default:
                if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
                    return integer();
                }
                if (Character.isLetter(c) || c == '_') {
                    return name();
                }
                throw error("unexpected character '" + printable(c) + "'");
        }
    }

    private Map<Object, Object> dict(int depth) throws SyntaxError {
        pos++; // '{'
        Map<Object, Object> map = new LinkedHashMap<>();
        skipSpace();
        if (peek() == '}') {
            pos++;
            return map;
        }
        while (true) {
            int keyStart = pos;
            Object key = value(depth + 1);
            if (!(key instanceof String || key instanceof BigInteger || key instanceof Boolean)) {
                pos = keyStart;
                throw error("dict keys must be strings");
            }
            skipSpace();
            expect(':');
            Object v = value(depth + 1);
            if (map.containsKey(key)) {
                pos = keyStart;
                throw error("duplicate key " + key);
            }
            map.put(key, v);
            skipSpace();
            char c = peek();
            if (c == ',') {
                pos++;
                skipSpace();
                if (peek() == '}') {
                    pos++;
                    return map;
                }
            } else if (c == '}') {
                pos++;
                return map;
            } else {
                throw error("expected ',' or '}'");
            }
        }
    }

    /** A parenthesised expression: a tuple when it is empty or has a comma, else the value itself. */
    private Object tuple(int depth) throws SyntaxError {
        pos++; // '('
        skipSpace();
        if (peek() == ')') {
            pos++;
            return new Tuple(List.of());
        }
        Object first = value(depth + 1);
        skipSpace();
        if (peek() == ')') {
            pos++;
            return first;
        }
        expect(',');
        List<Object> items = new ArrayList<>();
        items.add(first);
        items.addAll(sequence(')', depth));
        return new Tuple(Collections.unmodifiableList(items));
    }

    /**
     * Comma-separated values up to {@code close} (a trailing comma allowed), starting after the opening bracket
     * (for a tuple: after its first item's comma).
     */
    private List<Object> sequence(char close, int depth) throws SyntaxError {
        List<Object> items = new ArrayList<>();
        while (true) {
            skipSpace();
            if (peek() == close) {
                pos++;
                return Collections.unmodifiableList(items);
            }
            items.add(value(depth + 1));
            skipSpace();
            char c = peek();
            if (c == ',') {
                pos++;
            } else if (c == close) {
                pos++;
                return Collections.unmodifiableList(items);
            } else {
                throw error("expected ',' or '" + close + "'");
            }
        }
    }

    private String string() throws SyntaxError {
        char quote = text.charAt(pos);
        int start = pos;
        pos++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                pos = start;
                throw error("unterminated string");
            }
            char c = text.charAt(pos++);
            if (c == quote) {
                return sb.toString();
            }
            if (c == '\n') {
                pos = start;
                throw error("unterminated string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                pos = start;
                throw error("unterminated string");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case 'n':
                    sb.append('\n');
                    break;
                case 't':
                    sb.append('\t');
                    break;
                case 'r':
                    sb.append('\r');
                    break;
                case '0':
                    sb.append('\0');
                    break;
                case '\\':
                case '\'':
                case '"':
                    sb.append(e);
                    break;
                default:
                    // Python keeps unknown escapes as written.
                    sb.append('\\').append(e);
            }
        }
    }

    private BigInteger integer() throws SyntaxError {
        int start = pos;
        if (peek() == '-' || peek() == '+') {
            pos++;
        }
        int digits = pos;
        while (pos < text.length() && Character.isDigit(text.charAt(pos)) && text.charAt(pos) < 128) {
            pos++;
        }
        if (pos == digits) {
            pos = start;
            throw error("expected a number");
        }
        if (pos - digits > 40) {
            pos = start;
            throw error("integer too long");
        }
        BigInteger value = new BigInteger(text.substring(start, pos));
        if (pos < text.length() && (text.charAt(pos) == 'L' || text.charAt(pos) == 'l')) {
            pos++; // Python 2 long suffix, e.g. (2L, 3L)
        }
        if (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '.')) {
            pos = start;
            throw error("only integer numbers are allowed");
        }
        return value;
    }

    private Object name() throws SyntaxError {
        int start = pos;
        while (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '_')) {
            pos++;
        }
        String word = text.substring(start, pos);
        switch (word) {
            case "True":
                return Boolean.TRUE;
            case "False":
                return Boolean.FALSE;
            case "None":
                return NONE;
            default:
                pos = start;
                throw error("unexpected name '" + word + "' (only True, False and None are literals)");
        }
    }

    private void expect(char c) throws SyntaxError {
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
                pos++;
            } else if (c == '#') {
                // A comment, to the end of the line (ast.literal_eval allows them).
                while (pos < text.length() && text.charAt(pos) != '\n') {
                    pos++;
                }
            } else {
                break;
            }
        }
    }

    private SyntaxError error(String what) {
        return new SyntaxError(what + " at character " + pos);
    }

    private static String printable(char c) {
        return c >= 32 && c < 127 ? String.valueOf(c) : String.format("\\u%04x", (int) c);
    }
}
