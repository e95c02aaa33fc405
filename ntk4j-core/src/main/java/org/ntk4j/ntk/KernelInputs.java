package org.ntk4j.ntk;

import java.util.List;
import org.ntk4j.graph.TensorType;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamSpec;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * The inputs of one kernel call, validated: x1, x2 (x1 itself when x2 = x1: {@link #same}), one example's shape,
 * the dtype, the parameters' specs in the graph's input order, and the kernel's axes.
 */
final class KernelInputs {
    final Tensor x1;
    final Tensor x2;
    final boolean same;
    final int[] perExample;
    final DType dtype;
    final List<ParamSpec> specs;

    private final Model model;
    private final int[] traceAxes;
    private final int[] diagonalAxes;

    /**
     * Validates x1 and x2 (null: x1) for a kernel of {@code model} at {@code params} with these axes; check =
     * false: inputs already validated (the tiles of a prepared kernel).
     */
    KernelInputs(Model model, Params params, int[] traceAxes, int[] diagonalAxes, Tensor x1, Tensor x2,
                 boolean check) {
        this.model = model;
        this.traceAxes = traceAxes;
        this.diagonalAxes = diagonalAxes;
        if (x1 == null) {
            throw new IllegalArgumentException("x1: must not be null");
        }
        if (x1.rank() < 1) {
            throw new IllegalArgumentException("x1: expected a batch [n, ...], got a scalar");
        }
        requireOpen("x1", x1);
        if (x2 != null) {
            requireOpen("x2", x2);
        }
        this.x1 = x1;
        this.same = x2 == null;
        this.x2 = same ? x1 : x2;
        this.perExample = Shapes.dropFirst(x1.shape());
        this.dtype = x1.dtype();
        if (!same && (!java.util.Arrays.equals(Shapes.dropFirst(x2.shape()), perExample)
                || x2.dtype() != dtype)) {
            throw new IllegalArgumentException("x2: examples must be " + new TensorType(dtype, perExample)
                    + " like those of x1, got a batch " + TensorType.of(x2));
        }
        this.specs = model.paramSpecs(perExample);
        if (check) {
            // the parameters' shapes follow from the examples' shape: where they differ, the examples (a wrong rank,
            // say) are as likely the mistake as the parameters, so both are named
            ParamSpec s = params.firstMisshapen(specs);
            if (s != null) {
                throw new IllegalArgumentException("x1: examples of shape " + Shapes.str(perExample) + " need "
                        + "parameter '" + s.path() + "' of shape " + Shapes.str(s.shape()) + ", and params has "
                        + Shapes.str(params.tensors().get(s.path()).shape()) + ": were the parameters made for "
                        + "examples of another shape?");
            }
            params.validate(specs, dtype, "x1");
            String differs = model.bufferMismatch(params, perExample, dtype);
            if (differs != null) {
                throw new IllegalArgumentException("params: buffer '" + differs + "' differs from the model's (its "
                        + "running statistics, say): the kernel would be another network's than model.apply(params, "
                        + "x); compute with EmpiricalNtk.of(model.withBuffers(params.buffers()), params)");
            }
            KernelSupport.checkFinite("x1", x1);
            if (!same) {
                KernelSupport.checkFinite("x2", x2);
            }
        }
    }

    KernelAxes axes() {
        return new KernelAxes(model.outputShape(perExample).length + 1, traceAxes, diagonalAxes);
    }

    int[] f1() {
        return Shapes.prepend(x1.dim(0), model.outputShape(perExample));
    }

    int[] f2() {
        return Shapes.prepend(x2.dim(0), model.outputShape(perExample));
    }

    /** An input closed before (or while) a kernel reads it, named: not a bare "tensor was closed" from deep inside. */
    private static void requireOpen(String name, Tensor x) {
        if (x.isClosed()) {
            throw new IllegalStateException(name + ": the tensor " + Shapes.str(x.shape()) + " was closed; keep the "
                    + "inputs open until every kernel call reading them has returned");
        }
    }
}
