"""Stop-word language guess."""

from __future__ import annotations

import pytest

from llmft_assets.cleaning.language import guess_language

ENGLISH = (
    "The lantern-maker lived at the bottom of Pell Street, where the fog came up from the river "
    "in the evenings and stood about the doorways like a crowd that had nowhere to go. His shop "
    "was narrow and deep, and it smelt of tallow and of the pine shavings that he swept into a "
    "heap by the stove every night. His daughter kept the accounts, and she could add a column "
    "of figures faster than the curate, which the curate did not like at all."
)
GERMAN = (
    "Der Laternenmacher wohnte am unteren Ende der Pell Street, wo der Nebel am Abend vom Fluss "
    "heraufkam und in den Türen stand wie eine Menge, die nicht wusste, wohin sie gehen sollte. "
    "Sein Laden war schmal und tief, und es roch nach Talg und nach den Spänen, die er jeden Abend "
    "auf einen Haufen neben dem Ofen kehrte. Seine Tochter führte die Bücher, und sie konnte eine "
    "Spalte von Zahlen schneller addieren als der Pfarrer, was dem Pfarrer nicht gefiel, denn er "
    "war mit sich und der Welt nicht zufrieden und sah das Mädchen nicht gern in der Kirche."
)
FRENCH = (
    "Le fabricant de lanternes habitait au bas de la rue Pell, où le brouillard montait de la "
    "rivière le soir et se tenait dans les portes comme une foule qui ne sait pas où aller. Sa "
    "boutique était étroite et profonde, et elle sentait le suif et les copeaux de pin qu'il "
    "balayait en un tas près du poêle tous les soirs. Sa fille tenait les comptes, et elle savait "
    "additionner une colonne de chiffres plus vite que le curé, ce que le curé n'aimait pas du "
    "tout, car il était fier de son savoir et de sa place dans la paroisse et dans le village."
)


@pytest.mark.parametrize(
    ("text", "code"), [(ENGLISH, "en"), (GERMAN, "de"), (FRENCH, "fr")], ids=["en", "de", "fr"]
)
def test_language_of_a_paragraph(text: str, code: str) -> None:
    assert guess_language(text) == code


def test_language_of_a_longer_text_is_stable() -> None:
    assert guess_language("\n\n".join([GERMAN] * 50)) == "de"
    assert guess_language(ENGLISH + "\n\n" + FRENCH[:80]) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n  ",
        "The end.",
        "Data engineering with Spark, Kafka, Airflow, dbt.",
        "12345 67890 3.14159 2024-01-01",
        "Lorem ipsum dolor sit amet consectetur adipiscing elit sed eiusmod tempor incididunt",
    ],
)
def test_too_little_text_gives_no_guess(text: str) -> None:
    assert guess_language(text) == ""
