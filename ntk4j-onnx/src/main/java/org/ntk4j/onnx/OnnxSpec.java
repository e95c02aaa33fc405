package org.ntk4j.onnx;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Zoo;

/**
 * An imported ONNX model as a string, so that it can stand where a zoo spec does (a run's fingerprint, a Spark task
 * that rebuilds the model on an executor): the file and the choices made when it was read.
 *
 * <p>The form is {@code onnx:FILE} with, when given, {@code ?input-shape=3,32,32&output=y&freeze=R&params-only=R}
 * (values URL-encoded; {@code %} and {@code ?} in the path written {@code %25} and {@code %3F}); the shapes of the
 * inputs of a model with several are {@code input-shape:NAME=16} (NAME URL-encoded), one per input given. FILE is
 * absolute, so every process that reads the spec (an executor on another machine) must reach the same path.
 *
 * @param file the .onnx file, absolute
 * @param inputShape the per-example input shape given for dynamic axes (without the batch axis), or null
 * @param output the graph output chosen, or null for the file's only output
 * @param freeze the pattern of initializer names made constants, or null
 * @param paramsOnly the pattern of initializer names kept as the only parameters, or null
 * @param namedInputShapes per-example shapes given by input name (for a model with several inputs), possibly empty
 */
public record OnnxSpec(Path file, int[] inputShape, String output, String freeze, String paramsOnly,
                       Map<String, int[]> namedInputShapes) {
    /** The prefix of every ONNX model spec. */
    public static final String PREFIX = "onnx:";
    private static final String NAMED_SHAPE = "input-shape:";

    /**
     * Checks and normalises the fields.
     *
     * @param file the .onnx file (made absolute)
     * @param inputShape the per-example input shape, or null
     * @param output the output's name, or null
     * @param freeze a {@link java.util.regex.Pattern} of names, or null
     * @param paramsOnly a {@link java.util.regex.Pattern} of names, or null
     * @param namedInputShapes per-example shapes by input name (copied), or null for none
     * @throws IllegalArgumentException if a pattern does not compile or an axis of a shape is below 1
     */
    public OnnxSpec {
        file = file.toAbsolutePath().normalize();
        inputShape = inputShape == null ? null : positive(inputShape);
        Map<String, int[]> named = new TreeMap<>();
        if (namedInputShapes != null) {
            namedInputShapes.forEach((k, v) -> named.put(k, positive(v)));
        }
        namedInputShapes = Collections.unmodifiableMap(named);
        compile("--freeze", freeze);
        compile("--params-only", paramsOnly);
    }

    /**
     * A spec without shapes by input name.
     *
     * @param file the .onnx file (made absolute)
     * @param inputShape the per-example input shape, or null
     * @param output the output's name, or null
     * @param freeze a {@link java.util.regex.Pattern} of names, or null
     * @param paramsOnly a {@link java.util.regex.Pattern} of names, or null
     * @throws IllegalArgumentException if a pattern does not compile or an axis of the shape is below 1
     */
    public OnnxSpec(Path file, int[] inputShape, String output, String freeze, String paramsOnly) {
        this(file, inputShape, output, freeze, paramsOnly, null);
    }

    private static int[] positive(int[] shape) {
        for (int d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException("--input-shape: every axis needs at least 1 element, got "
                        + Arrays.toString(shape));
            }
        }
        return shape.clone();
    }

    /**
     * The per-example shapes given by input name.
     *
     * @return a new map, by name in sorted order, of copies
     */
    @Override
    public Map<String, int[]> namedInputShapes() {
        Map<String, int[]> r = new TreeMap<>();
        namedInputShapes.forEach((k, v) -> r.put(k, v.clone()));
        return r;
    }

    /**
     * Whether {@code spec} names an ONNX model: {@code onnx:FILE}, or a path ending in {@code .onnx}.
     *
     * @param spec a model argument
     * @return true for an ONNX file, false for what should be a zoo spec
     */
    public static boolean isOnnx(String spec) {
        String s = spec.trim();
        return s.startsWith(PREFIX) || s.toLowerCase(java.util.Locale.ROOT).endsWith(".onnx");
    }

    /**
     * Reads a spec as {@link #toString} writes it, or a plain path.
     *
     * @param spec {@code onnx:FILE[?options]} or a path
     * @return the spec
     * @throws IllegalArgumentException if an option is unknown or malformed
     */
    public static OnnxSpec parse(String spec) {
        String s = spec.trim();
        if (!s.startsWith(PREFIX)) {
            return new OnnxSpec(Path.of(s), null, null, null, null);
        }
        s = s.substring(PREFIX.length());
        int q = s.indexOf('?');
        String path = (q < 0 ? s : s.substring(0, q)).replace("%3F", "?").replace("%25", "%");
        int[] shape = null;
        Map<String, int[]> named = new TreeMap<>();
        String output = null;
        String freeze = null;
        String only = null;
        if (q >= 0) {
            for (String kv : s.substring(q + 1).split("&")) {
                int eq = kv.indexOf('=');
                if (eq < 0) {
                    throw new IllegalArgumentException("model spec " + spec + ": expected key=value, got '" + kv + "'");
                }
                String v = URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
                if (kv.startsWith(NAMED_SHAPE)) {
                    named.put(URLDecoder.decode(kv.substring(NAMED_SHAPE.length(), eq), StandardCharsets.UTF_8),
                            parseShape("model spec " + spec, v));
                    continue;
                }
                switch (kv.substring(0, eq)) {
                    case "input-shape" -> shape = parseShape("model spec " + spec, v);
                    case "output" -> output = v;
                    case "freeze" -> freeze = v;
                    case "params-only" -> only = v;
                    default -> throw new IllegalArgumentException("model spec " + spec + ": unknown option '"
                            + kv.substring(0, eq) + "' (input-shape, input-shape:NAME, output, freeze, params-only)");
                }
            }
        }
        return new OnnxSpec(Path.of(path), shape, output, freeze, only, named);
    }

    /**
     * A comma-separated list of positive sizes.
     *
     * @param what the option or source, for the error
     * @param text e.g. {@code 3,32,32}
     * @return the sizes
     * @throws IllegalArgumentException naming {@code what} when a size is not a positive integer
     */
    public static int[] parseShape(String what, String text) {
        String[] parts = text.trim().split("\\s*,\\s*");
        int[] shape = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                shape[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                shape[i] = 0;
            }
            if (shape[i] < 1) {
                throw new IllegalArgumentException(what + ": expected positive sizes separated by commas (the "
                        + "per-example shape, without the batch axis, e.g. 3,32,32), got '" + text + "'");
            }
        }
        return shape;
    }

    /**
     * Reads the file with these choices.
     *
     * @return the imported model, with {@link #freeze} and {@link #paramsOnly} applied
     * @throws IllegalArgumentException if the file cannot be imported, or a pattern matches no parameter
     */
    public OnnxModel load() {
        OnnxModel.Options o = OnnxModel.Options.defaults();
        if (inputShape != null) {
            o = o.inputShape(inputShape);
        }
        for (Map.Entry<String, int[]> e : namedInputShapes.entrySet()) {
            o = o.inputShape(e.getKey(), e.getValue());
        }
        if (output != null) {
            o = o.output(output);
        }
        OnnxModel m = OnnxModel.load(file, o);
        if (freeze != null) {
            m = m.freeze(compile("--freeze", freeze));
        }
        if (paramsOnly != null) {
            m = m.paramsOnly(compile("--params-only", paramsOnly));
        }
        return m;
    }

    /**
     * The imported model under this spec (its {@link Model#spec()} is {@link #toString}).
     *
     * @param onnx the model {@link #load} gave
     * @return the same network, named by this spec
     */
    public Model model(OnnxModel onnx) {
        return new Model(onnx.model().root(), toString());
    }

    /**
     * A zoo spec or an ONNX spec as a model: what an executor calls to rebuild the model a driver named.
     *
     * @param spec a zoo spec ({@link Zoo#parse}) or an ONNX spec ({@link #parse})
     * @return the model
     * @throws IllegalArgumentException if the spec is neither, or the file cannot be imported
     */
    public static Model parseModel(String spec) {
        if (!isOnnx(spec)) {
            return Zoo.parse(spec);
        }
        OnnxSpec s = parse(spec);
        return s.model(s.load());
    }

    @Override
    public String toString() {
        StringBuilder q = new StringBuilder();
        if (inputShape != null) {
            q.append("&input-shape=").append(enc(Arrays.stream(inputShape).mapToObj(Integer::toString)
                    .collect(java.util.stream.Collectors.joining(","))));
        }
        namedInputShapes.forEach((name, shape) -> q.append("&").append(NAMED_SHAPE).append(enc(name)).append("=")
                .append(enc(Arrays.stream(shape).mapToObj(Integer::toString)
                        .collect(java.util.stream.Collectors.joining(",")))));
        if (output != null) {
            q.append("&output=").append(enc(output));
        }
        if (freeze != null) {
            q.append("&freeze=").append(enc(freeze));
        }
        if (paramsOnly != null) {
            q.append("&params-only=").append(enc(paramsOnly));
        }
        String path = file.toString().replace("%", "%25").replace("?", "%3F");
        return PREFIX + path + (q.length() == 0 ? "" : "?" + q.substring(1));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OnnxSpec s && toString().equals(s.toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    private static String enc(String v) {
        return URLEncoder.encode(v, StandardCharsets.UTF_8);
    }

    private static Pattern compile(String option, String regex) {
        if (regex == null) {
            return null;
        }
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(option + ": not a valid regular expression '" + regex + "': "
                    + e.getDescription());
        }
    }
}
