import pytest
from pydantic import BaseModel, ValidationError

from shared.types import UINT256_MAX, AmountIn, AmountOut


class In(BaseModel):
    amount: AmountIn


class Out(BaseModel):
    amount: AmountOut


def test_amounts_are_exact_integers_beyond_float_precision():
    big = str(UINT256_MAX)
    assert In(amount=big).amount == UINT256_MAX
    assert Out(amount=UINT256_MAX).model_dump_json() == f'{{"amount":"{big}"}}'


@pytest.mark.parametrize("bad", [5, 1.5, "1.5", "-1", "1e18", "", " 1", "١٢", str(UINT256_MAX + 1), None])
def test_anything_but_a_digit_string_is_refused(bad):
    with pytest.raises(ValidationError):
        In(amount=bad)
