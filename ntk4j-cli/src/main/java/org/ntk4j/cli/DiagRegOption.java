package org.ntk4j.cli;

import java.util.Locale;
import org.ntk4j.predict.DiagReg;
import picocli.CommandLine.Option;

/**
 * {@code --diag-reg} and {@code --diag-reg-absolute}, the diagonal regulariser of every kernel regression the
 * commands solve (predict, approx, study): spelled, defaulted and read the same way by each, as one
 * {@link DiagReg}.
 */
final class DiagRegOption {
    @Option(names = "--diag-reg", description = "Diagonal regulariser r: K + r·(trace/dim)·I (default: "
            + "${DEFAULT-VALUE}; neural-tangents' default is 0).")
    double diagReg = 1e-4;

    @Option(names = "--diag-reg-absolute", description = "Add --diag-reg itself to the diagonal, not scaled by "
            + "the mean diagonal (neural-tangents' diag_reg_absolute_scale).")
    boolean absolute;

    /**
     * The regulariser given, checked.
     *
     * @throws IllegalArgumentException naming --diag-reg if it is negative, NaN or infinite
     */
    DiagReg value() {
        KernelOptions.requireDiagReg(diagReg);
        return absolute ? DiagReg.absolute(diagReg) : DiagReg.relative(diagReg);
    }

    /**
     * For the commands' first line: "diag_reg 1.0e-04" for a relative regulariser (as approx and study printed it
     * before --diag-reg-absolute), "diag_reg 1.0e-04 absolute" for an absolute one.
     */
    static String describe(DiagReg reg) {
        return String.format(Locale.ROOT, "diag_reg %.1e%s", reg.value(), reg.isAbsolute() ? " absolute" : "");
    }
}
