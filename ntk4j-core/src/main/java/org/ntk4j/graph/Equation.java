package org.ntk4j.graph;

import java.util.Collections;
import java.util.List;
import org.ntk4j.primitive.Primitive;

/** One primitive application {@code out = primitive(inputs...)} in a traced graph. */
public final class Equation {
    private final Primitive primitive;
    private final List<Var> inputs;
    private final Var output;

    Equation(Primitive primitive, List<Var> inputs, Var output) {
        this.primitive = primitive;
        this.inputs = Collections.unmodifiableList(inputs);
        this.output = output;
    }

    public Primitive primitive() {
        return primitive;
    }

    public List<Var> inputs() {
        return inputs;
    }

    public Var input(int i) {
        return inputs.get(i);
    }

    public Var output() {
        return output;
    }

    @Override
    public String toString() {
        return GraphPrinter.equation(this, new GraphPrinter.Names());
    }
}
