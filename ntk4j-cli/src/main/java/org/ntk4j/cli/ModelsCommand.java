package org.ntk4j.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.ntk4j.nn.Zoo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code ntk4j models}: the model zoo with its options and defaults. */
@Command(name = "models", mixinStandardHelpOptions = true,
        footer = {"", "Example:", "  ntk4j models"}, description = "List the model zoo and its options.")
public final class ModelsCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        for (Zoo.Entry e : Zoo.entries()) {
            out.println(e.name() + "(" + e.options() + ")");
            out.println("    " + e.description());
            int[] in = e.listedInput();
            if (in != null) {
                org.ntk4j.nn.Model m = Zoo.parse(e.name());
                long n = m.paramSpecs(in).stream().mapToLong(org.ntk4j.nn.ParamSpec::size).sum();
                long b = m.bufferSpecs(in).stream().mapToLong(org.ntk4j.nn.ParamSpec::size).sum();
                out.println(String.format(java.util.Locale.ROOT, "    %,d parameters and %,d buffer values "
                        + "(batch-norm running statistics) on %d×%d×%d inputs", n, b, in[0], in[1], in[2]));
            }
        }
        out.println("Every model: param=ntk|standard, w_std (σ_w), b_std (σ_b; 0 removes the biases).");
        out.println("Example: --model 'fcn(depth=3,width=512,out=10,act=erf)'");
        out.flush();
        return 0;
    }
}
