package org.ntk4j.primitive;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ntk4j.cpu.Layout;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * XLA's broadcast_in_dim: operand axis i becomes result axis {@code dims[i]} (strictly increasing), where the
 * operand's size is 1 or equals the result's; the other result axes are new. Linear.
 */
public final class BroadcastInDim implements Primitive {
    private final int[] shape;
    private final int[] dims;

    /**
     * Creates the broadcast; the arguments are checked against the operand by {@link #outputType}.
     *
     * @param shape the result shape, copied
     * @param dims per operand axis, the result axis it becomes (strictly increasing), copied
     */
    public BroadcastInDim(int[] shape, int[] dims) {
        this.shape = shape.clone();
        this.dims = dims.clone();
    }

    @Override
    public String name() {
        return "broadcast_in_dim";
    }

    @Override
    public String params() {
        return "shape=" + Arrays.toString(shape) + " dims=" + Arrays.toString(dims);
    }

    /**
     * The axis map.
     *
     * @return a copy of {@code dims}: per operand axis, the result axis it becomes
     */
    public int[] broadcastDimensions() {
        return dims.clone();
    }

    @Override
    public TensorType outputType(TensorType... in) {
        if (in.length != 1) {
            throw new IllegalArgumentException("broadcast_in_dim: expects 1 operand, got " + in.length);
        }
        TensorType x = in[0];
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("broadcast_in_dim: cannot broadcast " + x + " to "
                        + Shapes.str(shape) + ": negative size");
            }
        }
        if (dims.length != x.rank()) {
            throw new IllegalArgumentException("broadcast_in_dim: dims " + Arrays.toString(dims)
                    + " must name one result axis per operand axis of " + x);
        }
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0 || dims[i] >= shape.length || (i > 0 && dims[i] <= dims[i - 1])) {
                throw new IllegalArgumentException("broadcast_in_dim: dims " + Arrays.toString(dims)
                        + " must be increasing axes of the result " + Shapes.str(shape));
            }
            if (x.dim(i) != 1 && x.dim(i) != shape[dims[i]]) {
                throw new IllegalArgumentException("broadcast_in_dim: operand " + x + " axis " + i + " (size "
                        + x.dim(i) + ") cannot broadcast to size " + shape[dims[i]] + " of " + Shapes.str(shape));
            }
        }
        return x.withShape(shape);
    }

    /** Data movement: no arithmetic. */
    @Override
    public double flops(TensorType[] inputs, TensorType output) {
        return 0;
    }

    /** Operand axis i becomes result axis dims[i] (broadcast there when its size is 1); other axes are new. */
    @Override
    public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand, Tensor[] constants) {
        int r = shape.length;
        int[] source = new int[r];
        LinearStructure.AxisMap[] map = new LinearStructure.AxisMap[r];
        Arrays.fill(source, -1);
        Arrays.fill(map, LinearStructure.AxisMap.BROADCAST);
        for (int i = 0; i < dims.length; i++) {
            source[dims[i]] = i;
            map[dims[i]] = inputs[0].dim(i) == 1 && shape[dims[i]] != 1 ? LinearStructure.AxisMap.BROADCAST
                    : LinearStructure.AxisMap.SAME;
        }
        return LinearStructure.axes(1, source, map, new int[r], new int[r]);
    }

    @Override
    public Tensor evaluate(Tensor... in) {
        return Layout.broadcastInDim(in[0], shape, dims);
    }

    @Override
    public Var jvp(Var[] p, Var out, Var[] t, int k) {
        return t[0].broadcastInDim(Shapes.prepend(k, shape), Shapes.concat(new int[] {0}, Stacked.shift(dims)));
    }

    /** Sums the cotangent over the new axes and over the axes where the operand had size 1. */
    @Override
    public Var[] vjp(Var[] p, Var out, Var ct, boolean[] needed) {
        int[] xs = p[0].shape();
        List<Integer> summed = new ArrayList<>();
        for (int j = 0; j < shape.length; j++) {
            int i = indexOf(dims, j);
            if (i < 0 || (xs[i] == 1 && shape[j] != 1)) {
                summed.add(j + 1);
            }
        }
        Var r = ct;
        if (!summed.isEmpty()) {
            r = r.sum(summed.stream().mapToInt(Integer::intValue).toArray());
        }
        return new Var[] {r.reshape(Shapes.prepend(ct.dim(0), xs))};
    }

    private static int indexOf(int[] a, int x) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == x) {
                return i;
            }
        }
        return -1;
    }
}
