package org.ntk4j.bench;

import java.util.Locale;

/** Progress lines: printed as they happen and kept for the report's log section. */
final class BenchLog {
    private final StringBuilder text = new StringBuilder();

    void say(String format, Object... args) {
        String line = String.format(Locale.ROOT, format, args);
        System.out.println(line);
        System.out.flush();
        text.append(line).append('\n');
    }

    String text() {
        return text.toString();
    }
}
