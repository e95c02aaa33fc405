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

    /**
     * The primitive this equation applies.
     *
     * @return the primitive, with its static parameters
     */
    public Primitive primitive() {
        return primitive;
    }

    /**
     * The operands, in the order the primitive takes them.
     *
     * @return an unmodifiable list of the operand variables (the same variable may appear more than once)
     */
    public List<Var> inputs() {
        return inputs;
    }

    /**
     * One operand.
     *
     * @param i the operand index, from 0
     * @return the {@code i}-th operand
     * @throws IndexOutOfBoundsException when {@code i} is not an operand index
     */
    public Var input(int i) {
        return inputs.get(i);
    }

    /**
     * The variable this equation defines.
     *
     * @return the output variable, whose type the primitive computed from the operand types
     */
    public Var output() {
        return output;
    }

    @Override
    public String toString() {
        return GraphPrinter.equation(this, new GraphPrinter.Names());
    }
}
