package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.tensor.DType;

/**
 * {@link Params#validate}: the values are scanned last to first (so the first layers' weights stay in the cache
 * for the forward pass), but the message still names the first non-finite parameter in the specs' order.
 */
class ParamsValidationTest {
    private static final int[] IN = {4};

    @Test
    void namesTheFirstNonFiniteParameterInSpecOrderWhateverTheScanOrder() {
        Model m = Zoo.parse("fcn(depth=2,width=6,out=3)");
        List<ParamSpec> specs = m.paramSpecs(IN);
        for (DType dtype : new DType[] {DType.F32, DType.F64}) {
            try (Params p = m.init(1, IN, dtype)) {
                assertThatCode(() -> p.validate(specs, dtype)).doesNotThrowAnyException();
                String second = specs.get(1).path();
                String last = specs.get(specs.size() - 1).path();
                p.get(last).setFlat(1, Double.NaN);
                assertThatThrownBy(() -> p.validate(specs, dtype)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("parameters: '" + last + "' has a non-finite value (NaN) at flat index 1");
                p.get(second).setFlat(4, Double.NEGATIVE_INFINITY);
                assertThatThrownBy(() -> p.validate(specs, dtype)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("parameters: '" + second + "' has a non-finite value (-Infinity) at flat index 4");
            }
        }
    }

    /**
     * Parameters of another dtype than the inputs': the message names the input whose dtype decides (before
     * 2026-12-07 it said only that the parameters "must be f32", as if they alone were wrong), for the kernel's x1
     * and a model's x, both ways round.
     */
    @Test
    void aDtypeMismatchNamesTheInputWhoseDtypeDecides() {
        Model m = Zoo.parse("fcn(depth=2,width=6,out=3)");
        String first = m.paramSpecs(IN).get(0).path();
        for (DType[] pair : new DType[][] {{DType.F32, DType.F64}, {DType.F64, DType.F32}}) {
            String x = pair[0].shortName();
            String params = pair[1].shortName();
            try (Params p = m.init(1, IN, pair[1]);
                 org.ntk4j.tensor.Tensor x1 = org.ntk4j.tensor.Tensor.randomNormal(pair[0], 2, 3, 4)) {
                assertThatThrownBy(() -> org.ntk4j.ntk.EmpiricalNtk.of(m, p).ntk(x1, null))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("parameters: '" + first + "' must be " + x + " because x1 is " + x + ", is "
                                + params + " (convert the parameters or x1 so that both have one dtype)");
                assertThatThrownBy(() -> m.apply(p, x1)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("must be " + x + " because x is " + x + ", is " + params);
            }
        }
    }
}
