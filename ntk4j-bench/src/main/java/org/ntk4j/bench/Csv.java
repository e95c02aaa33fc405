package org.ntk4j.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/** RFC 4180 CSV: a header, then rows; fields with a comma, quote or line break are quoted, quotes doubled. */
final class Csv {
    private final StringBuilder text = new StringBuilder();
    private final int columns;

    Csv(String... header) {
        columns = header.length;
        line((Object[]) header);
    }

    /** One row; numbers are written with 6 significant digits, NaN and null as empty fields. */
    Csv row(Object... fields) {
        if (fields.length != columns) {
            throw new IllegalArgumentException("a CSV row needs " + columns + " fields, got " + fields.length);
        }
        return line(fields);
    }

    private Csv line(Object... fields) {
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                text.append(',');
            }
            text.append(field(fields[i]));
        }
        text.append('\n');
        return this;
    }

    static String field(Object v) {
        if (v == null) {
            return "";
        }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            return Double.isNaN(d) ? "" : String.format(Locale.ROOT, "%.6g", d);
        }
        String s = v.toString();
        if (s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
            return '"' + s.replace("\"", "\"\"") + '"';
        }
        return s;
    }

    String text() {
        return text.toString();
    }

    void write(Path path) throws IOException {
        org.ntk4j.io.AtomicFile.writeString(path, text.toString());
    }
}
