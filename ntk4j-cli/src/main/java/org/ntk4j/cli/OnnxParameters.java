package org.ntk4j.cli;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.OnnxModel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;

/** {@code explain} on an ONNX model: its parameters, and how structured derivatives treat each. */
final class OnnxParameters {
    /** The note of {@link CostModel}'s structured-derivatives estimate: "S of P parameters structured, ...". */
    private static final Pattern STRUCTURED = Pattern.compile("(\\d+) of (\\d+) parameters structured");

    private OnnxParameters() {
    }

    /**
     * One line per parameter (name, shape, size, and whether structured derivatives treat it structurally or by the
     * dense fallback of per-example rows), after a heading with their number and count of scalars.
     */
    static String describe(OnnxModel onnx, int[] perExample, DType dtype) {
        List<ParamSpec> specs = onnx.model().paramSpecs(perExample);
        StringBuilder sb = new StringBuilder();
        int structured = 0;
        StringBuilder rows = new StringBuilder();
        // all structured (the usual case): one estimate says so; otherwise one estimate per parameter
        int[] whole = structuredCount(onnx, perExample, dtype);
        boolean all = whole != null && whole[0] == whole[1];
        for (ParamSpec p : specs) {
            String how = all ? "structured" : howStructured(onnx, p.path(), perExample, dtype);
            structured += how.equals("structured") ? 1 : 0;
            rows.append(String.format(Locale.ROOT, "  %-32s %-18s %10d  %s%n", p.path(), Shapes.str(p.shape()),
                    Shapes.size(p.shape()), how));
        }
        sb.append(String.format(Locale.ROOT, "ONNX %s (opset %d, %s): input '%s' %s, output '%s' %s%n",
                onnx.model().spec().startsWith("onnx:") ? onnx.model().spec().substring(5) : onnx.model().spec(),
                onnx.opset(), onnx.producer().isBlank() ? "unknown producer" : onnx.producer().strip(),
                onnx.inputName(),
                Shapes.str(onnx.inputShape()), onnx.outputName(), Shapes.str(onnx.outputShape())));
        sb.append(String.format(Locale.ROOT, "%d parameter tensors, %d scalars (of %d weight initializers); structured "
                + "derivatives: %d structured, %d by per-example rows (dense fallback)%n", specs.size(),
                onnx.parameterCount(), onnx.weightNames().size(), structured, specs.size() - structured));
        sb.append(String.format(Locale.ROOT, "  %-32s %-18s %10s  %s%n", "parameter", "shape", "size", "sd"));
        sb.append(rows);
        return sb.toString();
    }

    /**
     * "structured" or "dense" for one parameter: the structured-derivatives estimate of the model with that
     * parameter alone (the others constants), which counts the parameters it treats structurally.
     */
    private static String howStructured(OnnxModel onnx, String name, int[] perExample, DType dtype) {
        OnnxModel alone = onnx.parameterNames().size() == 1 ? onnx
                : onnx.paramsOnly(Pattern.compile("^" + Pattern.quote(name) + "$"));
        int[] c = structuredCount(alone, perExample, dtype);
        return c == null ? "?" : c[0] > 0 ? "structured" : "dense";
    }

    /** {structured, all} from the structured-derivatives estimate's note, or null if it does not say. */
    private static int[] structuredCount(OnnxModel onnx, int[] perExample, DType dtype) {
        CostModel.Estimate e = new CostModel(onnx.model(), perExample, dtype, 1, 0, new int[] {-1}, new int[0])
                .estimate(Method.STRUCTURED_DERIVATIVES);
        Matcher m = STRUCTURED.matcher(e.note());
        return m.find() ? new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))} : null;
    }
}
