import pytest
from pydantic import BaseModel, ValidationError

from shared.types import UINT256_MAX, AmountIn, AmountOut


class In(BaseModel):
    amount: AmountIn


class Out(BaseModel):
    amount: AmountOut


def test_amounts_are_exact_integers_beyond_float_precision():
    big = "9" * 77  # the most digits an amount may have: every such string fits a uint256
    assert In(amount=big).amount == 10**77 - 1
    assert Out(amount=UINT256_MAX).model_dump_json() == f'{{"amount":"{UINT256_MAX}"}}'


@pytest.mark.parametrize("bad", [5, 1.5, "1.5", "-1", "1e18", "", " 1", "١٢", str(UINT256_MAX + 1), "1" + "0" * 77, None])
def test_anything_but_a_digit_string_is_refused(bad):
    with pytest.raises(ValidationError):
        In(amount=bad)
