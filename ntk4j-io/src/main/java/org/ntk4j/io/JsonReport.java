package org.ntk4j.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A flat JSON object of strings, numbers, booleans and int arrays, written in insertion order. The reports
 * are a handful of scalar fields, so a JSON library would be a dependency for one call. {@link #read} reads such
 * an object back (a partial report that a resumed run continues).
 */
public final class JsonReport {
    private final Map<String, Object> fields = new LinkedHashMap<>();

    /** A double written with every digit it needs to be read back exactly ({@link #putExact}). */
    private record Exact(double value) {
    }

    /**
     * Adds a field (String, Number, Boolean or int[]), replacing an earlier value of the same key in its place.
     *
     * @param key the field name
     * @param value the value; null and non-finite floating-point numbers are written as {@code null}, any other
     *     type as the string of its {@code toString()}
     * @return this report, for chaining
     */
    public JsonReport put(String key, Object value) {
        fields.put(key, value);
        return this;
    }

    /**
     * Adds a floating-point field written with the shortest decimal that reads back as the same double (17
     * significant digits at most), not 6 as {@link #put} writes it: a figure that a resumed run reads back and
     * computes on (a fitted exponent over the widths of two runs equals the one of a single run).
     *
     * @param key the field name
     * @param value the value; a non-finite one is written as {@code null}
     * @return this report, for chaining
     */
    public JsonReport putExact(String key, double value) {
        fields.put(key, new Exact(value));
        return this;
    }

    /**
     * A field as {@link #read} read it, or as it was put.
     *
     * @param key the field name
     * @return the value: a String, Boolean, Long (an integer), Double (any other number), int[] or null (JSON null,
     *     or no such field: {@link #has} tells them apart)
     */
    public Object get(String key) {
        Object v = fields.get(key);
        return v instanceof Exact e ? (Object) e.value() : v;
    }

    /**
     * The field names.
     *
     * @return the names, in the report's order (unmodifiable)
     */
    public java.util.List<String> keys() {
        return java.util.List.copyOf(fields.keySet());
    }

    /**
     * Whether the report has a field.
     *
     * @param key the field name
     * @return true if it has one, whatever its value (null included)
     */
    public boolean has(String key) {
        return fields.containsKey(key);
    }

    /**
     * Reads a flat JSON object as {@link #toJson} writes it: strings, numbers, booleans, null and arrays of
     * integers as values.
     *
     * @param file the file
     * @return its fields, in the file's order
     * @throws DataFormatException "FILE: not a flat JSON report (...)" if the text is not such an object, or not
     *     UTF-8 text (a binary file)
     * @throws IOException if the file cannot be read
     */
    public static JsonReport read(Path file) throws IOException {
        String text;
        try {
            text = java.nio.file.Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) {
            // its message is "Input length = 1", which named neither the file nor the problem
            throw new DataFormatException(file + ": not a flat JSON report as ntk4j writes them (not UTF-8 text)", e);
        }
        try {
            return new Parser(text).object();
        } catch (IllegalArgumentException e) {
            throw new DataFormatException(file + ": not a flat JSON report as ntk4j writes them (" + e.getMessage()
                    + ")", e);
        }
    }

    /**
     * The JSON text.
     *
     * @return the object, one field a line, ending with a newline; floating-point numbers to 6 significant digits
     */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{\n");
        int i = 0;
        for (Map.Entry<String, Object> e : fields.entrySet()) {
            sb.append("  ").append(quote(e.getKey())).append(": ").append(value(e.getValue()));
            sb.append(++i < fields.size() ? ",\n" : "\n");
        }
        return sb.append("}\n").toString();
    }

    /**
     * Writes the JSON text to {@code file} in UTF-8, whole or not at all ({@link AtomicFile}).
     *
     * @param file the file to create or replace
     * @throws IOException if the file cannot be written; the previous file is then unchanged
     */
    public void write(Path file) throws IOException {
        AtomicFile.writeString(file, toJson());
    }

    private static String value(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Boolean) {
            return v.toString();
        }
        if (v instanceof Exact e) {
            // Double.toString: the shortest round-trip digits, as JSON ("1.0E-5" is a JSON number)
            return Double.isFinite(e.value()) ? Double.toString(e.value()) : "null";
        }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            return Double.isFinite(d) ? String.format(Locale.ROOT, "%.6g", d) : "null";
        }
        if (v instanceof Number) {
            return v.toString();
        }
        if (v instanceof int[]) {
            int[] a = (int[]) v;
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < a.length; i++) {
                sb.append(i > 0 ? ", " : "").append(a[i]);
            }
            return sb.append(']').toString();
        }
        return quote(v.toString());
    }

    static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                default:
                    if (c < 0x20) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
            }
        }
        return sb.append('"').toString();
    }

    /** A reader of the one JSON shape {@link #toJson} writes; errors are IllegalArgumentExceptions saying where. */
    private static final class Parser {
        private final String s;
        private int i;

        Parser(String s) {
            this.s = s;
        }

        JsonReport object() {
            JsonReport r = new JsonReport();
            expect('{');
            if (peek() == '}') {
                i++;
            } else {
                while (true) {
                    String key = string();
                    expect(':');
                    r.fields.put(key, value());
                    char c = next();
                    if (c == '}') {
                        break;
                    }
                    if (c != ',') {
                        throw error("',' or '}'");
                    }
                }
            }
            if (peek() != 0) {
                throw error("the end of the text");
            }
            return r;
        }

        private Object value() {
            char c = peek();
            if (c == '"') {
                return string();
            }
            if (c == '[') {
                i++;
                java.util.List<Integer> list = new java.util.ArrayList<>();
                if (peek() == ']') {
                    i++;
                } else {
                    while (true) {
                        Object n = value();
                        if (!(n instanceof Long l) || l != l.intValue()) {
                            throw error("an integer in the array");
                        }
                        list.add(l.intValue());
                        char d = next();
                        if (d == ']') {
                            break;
                        }
                        if (d != ',') {
                            throw error("',' or ']'");
                        }
                    }
                }
                return list.stream().mapToInt(Integer::intValue).toArray();
            }
            for (String word : new String[] {"null", "true", "false"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            String number = s.substring(start, i);
            try {
                return number.matches("-?[0-9]+") ? (Object) Long.parseLong(number) : Double.parseDouble(number);
            } catch (NumberFormatException e) {
                i = start;
                throw error("a value");
            }
        }

        private String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (i < s.length() && s.charAt(i) != '"') {
                char c = s.charAt(i++);
                if (c == '\\' && i < s.length()) {
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n' -> sb.append('\n');
                        case 't' -> sb.append('\t');
                        case 'r' -> sb.append('\r');
                        case 'u' -> {
                            if (i + 4 > s.length()) {
                                throw error("four hex digits");
                            }
                            sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> sb.append(e);
                    }
                } else {
                    sb.append(c);
                }
            }
            if (i >= s.length()) {
                throw error("the end of a string");
            }
            i++;
            return sb.toString();
        }

        private void expect(char c) {
            if (next() != c) {
                i--;
                throw error("'" + c + "'");
            }
        }

        /** The next character that is not white space, consumed; 0 at the end. */
        private char next() {
            char c = peek();
            i++;
            return c;
        }

        /** The next character that is not white space, not consumed; 0 at the end. */
        private char peek() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
            return i < s.length() ? s.charAt(i) : 0;
        }

        private IllegalArgumentException error(String expected) {
            return new IllegalArgumentException("expected " + expected + " at character " + Math.min(i, s.length()));
        }
    }
}
