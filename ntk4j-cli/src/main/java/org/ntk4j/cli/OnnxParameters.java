package org.ntk4j.cli;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.OnnxModel;
import org.ntk4j.tensor.Shapes;

/** {@code explain} on an ONNX model: its parameters, and how structured derivatives treat each. */
final class OnnxParameters {
    private OnnxParameters() {
    }

    /**
     * One line per parameter (name, shape, size, and whether structured derivatives treat it structurally or by the
     * dense fallback of per-example rows), after a heading with their number and count of scalars. Which ones are
     * structured comes from the structured-derivatives estimate's {@link CostModel.Estimate#structuredParameters()}
     * for the problem explained (its N, kind and axes: the import holds values as views only for batches above one,
     * which changes what structured derivatives see), the estimate the method table prints.
     */
    static String describe(OnnxModel onnx, int[] perExample, CostModel explained) {
        List<ParamSpec> specs = onnx.model().paramSpecs(perExample);
        Set<String> structuredNames = explained.estimate(Method.STRUCTURED_DERIVATIVES).structuredParameters();
        StringBuilder sb = new StringBuilder();
        int structured = 0;
        StringBuilder rows = new StringBuilder();
        for (ParamSpec p : specs) {
            boolean s = structuredNames.contains(p.path());
            structured += s ? 1 : 0;
            rows.append(String.format(Locale.ROOT, "  %-32s %-18s %10d  %s%n", p.path(), Shapes.str(p.shape()),
                    Shapes.size(p.shape()), s ? "structured" : "dense"));
        }
        // a model with several inputs: each by name, then the packed example the model takes
        java.util.List<String> each = new java.util.ArrayList<>();
        for (String name : onnx.inputNames()) {
            each.add("'" + name + "' " + Shapes.str(onnx.inputShape(name)));
        }
        StringBuilder inputs = new StringBuilder(onnx.packedInputs() ? "inputs " : "input ")
                .append(String.join(", ", each));
        if (onnx.packedInputs()) {
            inputs.append(" (packed per example: ").append(Shapes.str(onnx.inputShape())).append(")");
        }
        sb.append(String.format(Locale.ROOT, "ONNX %s (opset %d, %s): %s, output '%s' %s%n",
                onnx.model().spec().startsWith("onnx:") ? onnx.model().spec().substring(5) : onnx.model().spec(),
                onnx.opset(), onnx.producer().isBlank() ? "unknown producer" : onnx.producer().strip(),
                inputs, onnx.outputName(), Shapes.str(onnx.outputShape())));
        sb.append(String.format(Locale.ROOT, "%d parameter tensors, %d scalars (of %d weight initializers); structured "
                + "derivatives: %d structured, %d by per-example rows (dense fallback)%n", specs.size(),
                onnx.parameterCount(), onnx.weightNames().size(), structured, specs.size() - structured));
        sb.append(String.format(Locale.ROOT, "  %-32s %-18s %10s  %s%n", "parameter", "shape", "size", "sd"));
        sb.append(rows);
        return sb.toString();
    }
}
