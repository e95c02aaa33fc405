package org.ntk4j.cli;

import java.util.Locale;
import org.ntk4j.ntk.EmpiricalNtk;
import picocli.CommandLine.Option;

/** Options shared by the commands that describe a kernel: its kind or axes, dtype and memory budget. */
final class KernelOptions {
    @Option(names = "--kind", description = "full (N×N×O×O), trace (N×N, mean over logits; default), diagonal "
            + "(N×N×O), pntk, pntk-unscaled, logit:K, probes:R, projected:K (see the README for the formulas).")
    String kind = "trace";

    @Option(names = "--trace-axes", split = ",", description = "Axes of f(x) to average over (overrides --kind; "
            + "with --diagonal-axes alone, nothing is traced).", converter = AxesConverter.class)
    int[] traceAxes;

    @Option(names = "--diagonal-axes", split = ",", description = "Axes of f(x) to keep the diagonal of "
            + "(overrides --kind).", converter = AxesConverter.class)
    int[] diagonalAxes;

    @Option(names = "--dtype", description = "f32 or f64 (default: ${DEFAULT-VALUE}).")
    String dtype = "f32";

    @Option(names = "--memory", description = "Memory budget for AUTO and, with --out, for the tiles, e.g. 512m, 8g "
            + "(default: 80%% of the off-heap limit, which is -Xmx unless -Dorg.bytedeco.javacpp.maxBytes is set).")
    String memory;

    /** True when --trace-axes or --diagonal-axes was given (they override --kind). */
    boolean explicitAxes() {
        return traceAxes != null || diagonalAxes != null;
    }

    int[][] axes() {
        int[] t;
        int[] d;
        switch (explicitAxes() ? "trace" : kind.toLowerCase(Locale.ROOT)) {
            case "full":
                t = new int[0];
                d = new int[0];
                break;
            case "trace":
                t = new int[] {-1};
                d = new int[0];
                break;
            case "diagonal":
                t = new int[0];
                d = new int[] {-1};
                break;
            default:
                // an N×N approximation kind: its own computation, with the trace axis
                t = new int[] {-1};
                d = new int[0];
        }
        if (traceAxes != null || diagonalAxes != null) {
            t = traceAxes != null ? traceAxes : new int[0];
            d = diagonalAxes != null ? diagonalAxes : new int[0];
        }
        return new int[][] {t, d};
    }

    long memoryBudget() {
        return memoryBudget(memory);
    }

    /** The budget a --memory value gives (null: the default, a safe share of the off-heap limit). */
    static long memoryBudget(String memory) {
        return memory == null ? EmpiricalNtk.defaultMemoryBudget() : parseBytes("--memory", memory);
    }

    /** 123, 64k, 512m, 8g (powers of 1024). */
    static long parseBytes(String option, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("k") || t.endsWith("m") || t.endsWith("g") || t.endsWith("t")) {
            char u = t.charAt(t.length() - 1);
            mult = u == 'k' ? 1L << 10 : u == 'm' ? 1L << 20 : u == 'g' ? 1L << 30 : 1L << 40;
            t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) {
                throw new NumberFormatException();
            }
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": expected a positive size such as 512m or 8g, got '"
                    + text + "'");
        }
    }

    /** Parses an axis list; 'none' is the empty list. */
    static final class AxesConverter implements picocli.CommandLine.ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            try {
                return Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new picocli.CommandLine.TypeConversionException("expected an axis number, got '" + value
                        + "'");
            }
        }
    }
}
