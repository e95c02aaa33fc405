package org.ntk4j.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A flat JSON object of strings, numbers, booleans and int arrays, written in insertion order. The reports
 * are a handful of scalar fields, so a JSON library would be a dependency for one call.
 */
public final class JsonReport {
    private final Map<String, Object> fields = new LinkedHashMap<>();

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
        byte[] bytes = toJson().getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, channel -> NpyIO.writeFully(channel, java.nio.ByteBuffer.wrap(bytes)));
    }

    private static String value(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Boolean) {
            return v.toString();
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
}
