"""Project Gutenberg stripping: every era's header and footer around a known body, which must
come back exactly (every author line, in order, and nothing else); and the real books."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.cleaning.gutenberg import BOILERPLATE, StrippedBook, strip_gutenberg

SAMPLE_BOOKS = Path(__file__).resolve().parents[2] / "llmft_assets" / "sample_data" / "gutenberg"
TITLE = "The Lantern-Maker's Daughter"
AUTHOR = "Edith M. Carrow"

# The author's text, as it sits between the markers: a title page, chapters, dialogue, an
# indented verse, a section break, and a last line that is only a page number.
BODY = """\
THE LANTERN-MAKER'S DAUGHTER

By EDITH M. CARROW

    "A light in the window is a word to the road."
                                   --_Old saying._


CHAPTER I

THE SHOP IN PELL STREET

The lantern-maker lived at the bottom of Pell Street, where the fog came
up from the river in the evenings and stood about the doorways like a
crowd that had nowhere to go. His shop was narrow and deep, and smelt of
tallow, brass polish and the little pine shavings that he swept into a
heap by the stove every night and never once remembered to burn.

His daughter Nell kept the accounts. She was fourteen, and she could add a
column of figures faster than the curate, which the curate did not like.

"Father," she said, on the night this story begins, "the lamps are lit
all down the street but ours."

"Then we shall be the last thing the fog finds," said the lantern-maker,
"and it will be sorry it came."

       *       *       *       *       *

CHAPTER II

THE GENTLEMAN WITH THE GREEN GLASS

It was a little after nine when the bell over the door rang, and a tall
gentleman came in, shaking the wet from a cape that was older than he was.
He set down on the counter a lantern of green glass, cracked across one
pane, and asked whether it could be mended by morning.

Nell looked at the crack, and then at the gentleman, and then at her
father; and her father looked only at the lantern, as he always did.

    Green for the harbour, red for the hill,
    White for the traveller, late and still.

"By morning," said the lantern-maker. "But not before."


CHAPTER III

MORNING

The fog was gone when Nell came down, and the green lantern stood mended
on the counter, burning, though the sun was up. Of the tall gentleman
there was no sign at all, then or ever after; but the lantern burned on
the counter for forty years, and nobody in Pell Street ever saw it go out.

THE END

3"""
WHITESPACE_LINE = "    "  # today's files have lines of only spaces around the markers
LICENCE_2022 = """\
Updated editions will replace the previous one\u2014the old editions will
be renamed.

Creating the works from print editions not protected by U.S. copyright
law means that no one owns a United States copyright in these works,
so the Foundation (and you!) can copy and distribute it in the United
States without permission and without paying copyright
royalties. Special rules, set forth in the General Terms of Use part
of this license, apply to copying and distributing Project
Gutenberg\u2122 electronic works to protect the PROJECT GUTENBERG\u2122
concept and trademark.


START: FULL LICENSE

THE FULL PROJECT GUTENBERG LICENSE

PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK

To protect the Project Gutenberg\u2122 mission of promoting the free
distribution of electronic works, by using or distributing this work
(or any other work associated in any way with the phrase \u201cProject
Gutenberg\u201d), you agree to comply with all the terms of the Full
Project Gutenberg\u2122 License available with this file or online at
www.gutenberg.org/license.

Section 5. General Information About Project Gutenberg\u2122 electronic works

Professor Michael S. Hart was the originator of the Project
Gutenberg\u2122 concept of a library of electronic works that could be
freely shared with anyone. This website includes information about
Project Gutenberg\u2122, including how to make donations to the Project
Gutenberg Literary Archive Foundation, how to help produce our new
eBooks, and how to subscribe to our email newsletter to hear about new
eBooks.
"""
LICENCE_2013 = """\
***** This file should be named 12345-8.txt or 12345-8.zip *****
This and all associated files of various formats will be found in:
        http://www.gutenberg.org/1/2/3/4/12345/

Updated editions will replace the previous one--the old editions
will be renamed.

Creating the works from public domain print editions means that no
one owns a United States copyright in these works, so the Foundation
(and you!) can copy and distribute it in the United States without
permission and without paying copyright royalties.



*** START: FULL LICENSE ***

THE FULL PROJECT GUTENBERG LICENSE
PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK

To protect the Project Gutenberg-tm mission of promoting the free
distribution of electronic works, by using or distributing this work
(or any other work associated in any way with the phrase "Project
Gutenberg"), you agree to comply with all the terms of the Full Project
Gutenberg-tm License available with this file or online at
www.gutenberg.org/license.

Most people start at our Web site which has the main PG search facility:

     http://www.gutenberg.org

This Web site includes information about Project Gutenberg-tm,
including how to make donations to the Project Gutenberg Literary
Archive Foundation, how to help produce our new eBooks, and how to
subscribe to our email newsletter to hear about new eBooks.
"""
SMALL_PRINT_BODY = """\
Why is this "Small Print!" statement here? You know: lawyers.
They tell us you might sue us if there is something wrong with
your copy of this etext, even if you got it for free from
someone other than us, and even if what's wrong is not our
fault. So, among other things, this "Small Print!" statement
disclaims most of our liability to you. It also tells you how
you can distribute copies of this etext if you want to.

*BEFORE!* YOU USE OR READ THIS ETEXT
By using or reading any part of this PROJECT GUTENBERG-tm
etext, you indicate that you understand, agree to and accept
this "Small Print!" statement.

ABOUT PROJECT GUTENBERG-TM ETEXTS
This PROJECT GUTENBERG-tm etext, like most PROJECT GUTENBERG-
tm etexts, is a "public domain" work distributed by Professor
Michael S. Hart through the Project Gutenberg Association (the
"Project"). Among other things, this means that no one owns a
United States copyright on or for this work.

WHAT IF YOU *WANT* TO SEND MONEY EVEN IF YOU DON'T HAVE TO?
The Project gratefully accepts contributions in money, time,
scanning machines, OCR software, public domain etexts, royalty
free copyright licenses, and every other sort of contribution
you can think of.
"""


def header_2013(title: str = TITLE, author: str = AUTHOR) -> str:
    return f"""\
The Project Gutenberg EBook of {title}, by {author}

This eBook is for the use of anyone anywhere at no cost and with
almost no restrictions whatsoever.  You may copy it, give it away or
re-use it under the terms of the Project Gutenberg License included
with this eBook or online at www.gutenberg.org


Title: {title}

Author: {author}

Release Date: August 16, 2013 [EBook #12345]

Language: English


"""


def book_2022(body: str = BODY) -> str:
    return f"""\
\ufeffThe Project Gutenberg eBook of {TITLE}
{WHITESPACE_LINE}
This ebook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever. You may copy it, give it away or re-use it under the terms
of the Project Gutenberg License included with this ebook or online
at www.gutenberg.org. If you are not located in the United States,
you will have to check the laws of the country where you are located
before using this eBook.

Title: {TITLE}

Author: {AUTHOR}

Release date: June 10, 2022 [eBook #12345]

Language: English

Credits: Greg Weeks, Mary Meehan and the Online Distributed Proofreading Team at http://www.pgdp.net


*** START OF THE PROJECT GUTENBERG EBOOK {TITLE.upper()} ***




{body}



*** END OF THE PROJECT GUTENBERG EBOOK {TITLE.upper()} ***


{WHITESPACE_LINE}

{LICENCE_2022}"""


def book_2013(body: str = BODY, start: str | None = None, end: str | None = None) -> str:
    start = start or f"*** START OF THIS PROJECT GUTENBERG EBOOK {TITLE.upper()} ***"
    end = end or f"*** END OF THIS PROJECT GUTENBERG EBOOK {TITLE.upper()} ***"
    return f"""{header_2013()}{start}




{body}




End of the Project Gutenberg EBook of {TITLE}, by {AUTHOR}

{end}

{LICENCE_2013}"""


def assert_body(book: StrippedBook, body: str = BODY, *, gap_left: bool = False) -> None:
    """The body comes back exactly; on failure, say which author line went missing. Where a
    paragraph was cut from between two of the author's (`gap_left`), the blank lines around
    it may stay: then only the number of blank lines between paragraphs may differ."""
    lines = [line for line in book.text.split("\n") if line.strip()]
    expected = [line for line in body.split("\n") if line.strip()]
    missing = [line for line in expected if line not in lines]
    assert not missing, f"author lines dropped: {missing[:3]}"
    assert lines == expected, "lines out of order or extra lines kept"
    if gap_left:
        assert re.sub(r"\n{3,}", "\n\n", book.text) == re.sub(r"\n{3,}", "\n\n", body)
    else:
        assert book.text == body
    assert not BOILERPLATE.search(book.text)


def test_2022_style_with_bom_and_crlf() -> None:
    data = book_2022().replace("\n", "\r\n").encode("utf-8")
    assert data.startswith(codecs.BOM_UTF8)
    book = strip_gutenberg(decode_text(data).text)
    assert_body(book)
    assert (book.title, book.author, book.language, book.flags) == (TITLE, AUTHOR, "en", ())


def test_2013_this_style_with_end_of_line_before_end_marker() -> None:
    book = strip_gutenberg(book_2013())
    assert_body(book)
    assert (book.title, book.author, book.language, book.flags) == (TITLE, AUTHOR, "en", ())


def test_2004_markers_without_spaces_after_the_asterisks() -> None:
    text = f"""{header_2013()}***START OF THE PROJECT GUTENBERG EBOOK {TITLE.upper()}***


{BODY}



***END OF THE PROJECT GUTENBERG EBOOK {TITLE.upper()}***


******* This file should be named 12345-8.txt or 12345-8.zip *******

{LICENCE_2013}"""
    assert_body(strip_gutenberg(text))


@pytest.mark.parametrize(
    "start",
    [
        # The title wraps; the closing asterisks are on the second line.
        "*** START OF THIS PROJECT GUTENBERG EBOOK THE LANTERN-MAKER'S\nDAUGHTER ***",
        # Only the closing asterisks are on the second line.
        "*** START OF THIS PROJECT GUTENBERG EBOOK THE LANTERN-MAKER'S DAUGHTER\n***",
        # The whole title moves to the second line.
        "*** START OF THIS PROJECT GUTENBERG EBOOK\nTHE LANTERN-MAKER'S DAUGHTER ***",
        "***START OF THE PROJECT GUTENBERG EBOOK THE\nLANTERN-MAKER'S DAUGHTER***",
    ],
    ids=["title-wraps", "asterisks-only", "title-on-line-2", "no-space"],
)
def test_start_marker_split_over_two_lines(start: str) -> None:
    book = strip_gutenberg(book_2013(start=start))
    assert_body(book)
    assert book.title == TITLE


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (None, "    *** END OF THIS PROJECT GUTENBERG EBOOK THE LANTERN-MAKER'S DAUGHTER ***"),
        ("\t*** START OF THIS PROJECT GUTENBERG EBOOK THE LANTERN-MAKER'S DAUGHTER ***", None),
    ],
    ids=["end", "start"],
)
def test_indented_markers(start: str | None, end: str | None) -> None:
    assert_body(strip_gutenberg(book_2013(start=start, end=end)))


def test_indented_end_marker_is_the_only_footer() -> None:
    text = f"""{header_2013()}*** START OF THIS PROJECT GUTENBERG EBOOK X ***

{BODY}

      *** END OF THIS PROJECT GUTENBERG EBOOK X ***

{LICENCE_2013}"""
    assert_body(strip_gutenberg(text))


def test_1990s_etext_with_small_print_header_and_no_end_marker() -> None:
    # A short etext: the small print at the top ends past the middle of the file.
    text = f"""\
***This is the Project Gutenberg Etext of {TITLE}***
*This first edition should be labeled lantr10.txt or lantr10.zip.
***This Edition Is Being Officially Released On March 8, 1994***

Please take a look at the important information in this header.
We encourage you to keep this file on your own disk, keeping an
electronic path open for the next readers.  Do not remove this.


**Welcome To The World of Free Plain Vanilla Electronic Texts**

**Etexts Readable By Both Humans and By Computers, Since 1971**

*These Etexts Prepared By Hundreds of Volunteers and Donations*

Information on contacting Project Gutenberg to get Etexts, and
further information is included below.  We need your donations.


{TITLE}

March, 1994  [Etext #999]


*****The Project Gutenberg Etext of {TITLE}*****
******This file should be named lantr10.txt or lantr10.zip******

***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***
{SMALL_PRINT_BODY}
This "Small Print!" by Charles B. Kramer, Attorney
Internet (72600.2026@compuserve.com); TEL: (212-254-5093)
*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*




{BODY}


"""
    book = strip_gutenberg(text)
    assert_body(book)
    assert book.title == TITLE
    assert book.flags == ("no_end_marker",)


def test_2002_style_with_small_print_after_the_end_marker() -> None:
    text = f"""\
The Project Gutenberg EBook of {TITLE}, by {AUTHOR}

Copyright laws are changing all over the world. Be sure to check the
copyright laws for your country before downloading or redistributing
this or any other Project Gutenberg eBook.

Please read the "legal small print," and other information about the
eBook and Project Gutenberg at the bottom of this file.  Included is
important information about your specific rights and restrictions in
how the file may be used.  You can also find out about how to make a
donation to Project Gutenberg, and how to get involved.


**Welcome To The World of Free Plain Vanilla Electronic Texts**

**eBooks Readable By Both Humans and By Computers, Since 1971**

*****These eBooks Were Prepared By Thousands of Volunteers!*****


Title: {TITLE}

Author: {AUTHOR}

Release Date: May, 2002 [EBook #12345]

Edition: 10

Language: English

Character set encoding: ASCII

*** START OF THE PROJECT GUTENBERG EBOOK {TITLE.upper()} ***




{BODY}




*** END OF THE PROJECT GUTENBERG EBOOK {TITLE.upper()} ***

This file should be named lantr10.txt or lantr10.zip
Corrected EDITIONS of our eBooks get a new NUMBER, lantr11.txt

The Legal Small Print

***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN EBOOKS**START***
{SMALL_PRINT_BODY}
The Legal Small Print, (C) 2001, 2002 by Michael S. Hart.
*END THE SMALL PRINT! FOR PUBLIC DOMAIN EBOOKS*Ver.02/11/02*END*
"""
    book = strip_gutenberg(text)
    assert_body(book)
    assert (book.title, book.author, book.flags) == (TITLE, AUTHOR, ())


def test_2002_style_small_print_when_the_end_marker_is_missing() -> None:
    # The small print's closing line is a header end in 1990s files; here it closes the file.
    text = f"""{header_2013()}*** START OF THE PROJECT GUTENBERG EBOOK X ***

{BODY}

***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN EBOOKS**START***
{SMALL_PRINT_BODY}
*END THE SMALL PRINT! FOR PUBLIC DOMAIN EBOOKS*Ver.02/11/02*END*
"""
    book = strip_gutenberg(text)
    assert_body(book)
    assert book.flags == ()


def test_short_book_behind_a_longer_header() -> None:
    # The START marker sits past the middle of the file: the header is longer than the rest.
    body = "THE LITTLE POEM\n\n    One line for the morning,\n    one line for the night."
    text = f"""{header_2013()}*** START OF THE PROJECT GUTENBERG EBOOK THE LITTLE POEM ***

{body}

*** END OF THE PROJECT GUTENBERG EBOOK THE LITTLE POEM ***

***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN EBOOKS**START***
Why is this "Small Print!" statement here? You know: lawyers.
*END THE SMALL PRINT! FOR PUBLIC DOMAIN EBOOKS*Ver.02/11/02*END*
"""
    assert_body(strip_gutenberg(text), body)


@pytest.mark.parametrize(
    "ending",
    [
        f"End of Project Gutenberg's {TITLE}, by {AUTHOR}",
        f"End of the Project Gutenberg EBook of {TITLE}, by {AUTHOR}",
        f"End of Project Gutenberg Etext of {TITLE}",
        f"End of The Project Gutenberg Etext of {TITLE}",
    ],
)
def test_end_of_project_gutenberg_line_as_the_only_end_signal(ending: str) -> None:
    text = f"""{header_2013()}*** START OF THIS PROJECT GUTENBERG EBOOK X ***

{BODY}



{ending}

This and all associated files of various formats will be found in:
        http://www.gutenberg.org/1/2/3/4/12345/

Creating the works from public domain print editions means that no
one owns a United States copyright in these works, so the Foundation
(and you!) can copy and distribute it in the United States without
permission and without paying copyright royalties.
"""
    book = strip_gutenberg(text)
    assert_body(book)
    assert book.flags == ()


@pytest.mark.parametrize("heading", ["*** START: FULL LICENSE ***", "START: FULL LICENSE"])
def test_full_licence_heading_after_the_end_marker(heading: str) -> None:
    text = f"""{header_2013()}*** START OF THIS PROJECT GUTENBERG EBOOK X ***

{BODY}

*** END OF THIS PROJECT GUTENBERG EBOOK X ***

{heading}

THE FULL PROJECT GUTENBERG LICENSE
PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK
"""
    assert_body(strip_gutenberg(text))


@pytest.mark.parametrize("heading", ["*** START: FULL LICENSE ***", "START: FULL LICENSE"])
def test_full_licence_heading_without_an_end_marker_ends_the_body(heading: str) -> None:
    text = f"""{header_2013()}*** START OF THIS PROJECT GUTENBERG EBOOK X ***

{BODY}



{heading}

THE FULL PROJECT GUTENBERG LICENSE
PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK

To protect the Project Gutenberg-tm mission of promoting the free
distribution of electronic works, you agree to comply with all the
terms of the Full Project Gutenberg-tm License.
"""
    assert_body(strip_gutenberg(text))


@pytest.mark.parametrize(
    "credit",
    [
        "Produced by Chuck Greif and the Online Distributed\nProofreading Team at"
        " http://www.pgdp.net (This file was\nproduced from images generously made"
        " available by The\nInternet Archive)",
        "Produced by Judith Boss, Charles Franks and the Online\nDistributed Proofreading Team.",
        "Produced by David Widger",
        "E-text prepared by Project Gutenberg Distributed Proofreaders",
        "E-text prepared by Martin Pettit\nand the Project Gutenberg Online Distributed"
        " Proofreading Team\n(http://www.pgdp.net)",
        "Etext prepared by John Bickers, jbickers@templar.actrix.gen.nz",
        "Transcribed from the 1891 Macmillan and Co. edition by David Price,"
        " email\nccx074@pglaf.org",
        "This etext was prepared by Dagny, dagnyj@hotmail.com",
        "This eBook was produced by David Widger <widger@cecomet.net>",
        "HTML file produced by David Widger",
        "Illustrated HTML file produced by David Widger",
        "Etext scanned by Jose Menendez",
        "Digitized by Google from the library of the University of Michigan",
        "Scanned and proofed by Ron Burkey (rburkey@heads-up.com)",
        "(This file was produced from images generously made available\nby the"
        " Bibliotheque nationale de France (BnF/Gallica) at\nhttp://gallica.bnf.fr)",
    ],
)
def test_credit_paragraphs_after_the_start_marker_are_dropped(credit: str) -> None:
    body = f"{credit}\n\n\n\n\n{BODY}"
    book = strip_gutenberg(book_2013(body=body))
    assert_body(book)


def test_credit_paragraph_and_bracketed_note_both_dropped() -> None:
    body = (
        "Produced by Greg Weeks, Mary Meehan and the Online\nDistributed Proofreading Team at"
        " http://www.pgdp.net\n\n\n\n"
        "[Transcriber's Note: This etext was produced from\nWeird Tales, February 1928.\n"
        "Extensive research did not uncover any evidence that\nthe U.S. copyright on this"
        " publication was renewed.]\n\n\n"
        f"{BODY}"
    )
    assert_body(strip_gutenberg(book_2013(body=body)))


def test_bracketed_transcribers_note_spanning_blank_lines_is_dropped() -> None:
    note = """\
[Transcriber's Note:

Obvious printer's errors have been corrected silently.

Inconsistent hyphenation (lantern-maker, lanternmaker) has been retained
as in the original.

Italic text is shown between _underscores_.]"""
    first, rest = BODY.split("\n\n", 1)
    body = f"{first}\n\n{note}\n\n{rest}"
    assert_body(strip_gutenberg(book_2013(body=body)), gap_left=True)


def test_trailing_transcribers_notes_section_is_dropped() -> None:
    notes = """\



Transcriber's Notes:

Punctuation has been standardised.

Page 12: "lanten" changed to "lantern".

Page 31: "Pel Street" changed to "Pell Street".

Page 40: "mornning" changed to "morning"."""
    assert_body(strip_gutenberg(book_2013(body=BODY + notes)))


def test_the_authors_last_line_is_never_dropped() -> None:
    book = strip_gutenberg(book_2013())
    assert book.text.endswith("nobody in Pell Street ever saw it go out.\n\nTHE END\n\n3")


@pytest.mark.parametrize(
    "opening",
    [
        "The supper had been prepared by old Martha, who had kept house for the\n"
        "lantern-maker since before Nell was born.",
        "It was produced by a patient hand from a sheet of brass and a candle-end,\n"
        "and it hung over the door of the shop in Pell Street.",
    ],
)
def test_author_paragraphs_that_read_like_credits_are_kept(opening: str) -> None:
    # "prepared by" and "produced by" are ordinary English: only credits opening with them go.
    body = f"{opening}\n\n{BODY}"
    assert_body(strip_gutenberg(book_2013(body=body)), body)


def test_text_without_markers_is_returned_whole_and_flagged() -> None:
    text = f"\n\n{BODY}\n\n"
    book = strip_gutenberg(text)
    assert book.text == BODY
    assert book.flags == ("no_markers",)


@pytest.mark.parametrize(
    ("header", "title", "author", "language"),
    [
        (
            "Title: Les Misérables\n\nAuthor: Victor Hugo\n\nLanguage: French\n\n",
            "Les Misérables",
            "Victor Hugo",
            "fr",
        ),
        (
            "Title: Faust: Der Tragödie erster Teil\n\nAuthor: Johann Wolfgang von Goethe\n\n"
            "Release Date: June, 2000 [EBook #2229]\n\nLanguage: German\n\n",
            "Faust: Der Tragödie erster Teil",
            "Johann Wolfgang von Goethe",
            "de",
        ),
        (
            "The Project Gutenberg EBook of The Time Machine, by H. G. Wells\n\n",
            "The Time Machine",
            "H. G. Wells",
            "",
        ),
        (
            "The Project Gutenberg Etext of Paradise Lost, by John Milton\n\n",
            "Paradise Lost",
            "John Milton",
            "",
        ),
    ],
)
def test_title_author_and_language_from_the_header(
    header: str, title: str, author: str, language: str
) -> None:
    text = f"{header}*** START OF THIS PROJECT GUTENBERG EBOOK X ***\n\n{BODY}\n\n*** END ***"
    book = strip_gutenberg(text)
    assert (book.title, book.author, book.language) == (title, author, language)


def test_title_from_the_start_marker_when_the_header_has_none() -> None:
    text = f"*** START OF THE PROJECT GUTENBERG EBOOK THE TIME MACHINE ***\n\n{BODY}"
    assert strip_gutenberg(text).title == "The Time Machine"


# ------------------------------------------------------------------------- the real books
REAL_BOOKS = {
    # file: (title, author, encoding, first author line, last author line)
    "pg68283-orig_call-of-cthulhu_2022.txt": (
        "The call of Cthulhu",
        "H. P. Lovecraft",
        "utf-8",
        "The CALL of CTHULHU",
        "caution before audacity and see that it meets no other eye.",
    ),
    "pg345_dracula_this-variant.txt": (
        "Dracula",
        "Bram Stoker",
        "utf-8",
        "DRACULA",
        "GROSSET & DUNLAP, _Publishers_, NEW YORK",
    ),
    "11563-8_morning-bells_2004_latin1.txt": (
        "Morning Bells",
        "Frances Ridley Havergal",
        "cp1252",
        "MORNING BELLS",
        "If ever I loved Thee, my Saviour, 'tis now!\"",
    ),
    "alice30_1994-etext.txt": (
        "Alice in Wonderland",
        "",
        "utf-8",
        "ALICE'S ADVENTURES IN WONDERLAND",
        "3",
    ),
    # The variants built from these bodies.
    "pg68283-reissue_call-of-cthulhu_2013-style.txt": (
        "The Call of Cthulhu",
        "H. P. Lovecraft",
        "utf-8",
        "The CALL of CTHULHU",
        "audacity and see that it meets no other eye.",
    ),
    "morning-bells_cp1252-labelled-utf8.txt": (
        "Morning Bells",
        "Frances Ridley Havergal",
        "cp1252",
        "MORNING BELLS",
        "If ever I loved Thee, my Saviour, 'tis now!\"",
    ),
}


@pytest.fixture(scope="module")
def real_books() -> dict[str, tuple[str, StrippedBook]]:
    books = {}
    for name in REAL_BOOKS:
        decoded = decode_text((SAMPLE_BOOKS / name).read_bytes())
        books[name] = (decoded.encoding, strip_gutenberg(decoded.text))
    return books


@pytest.mark.parametrize("name", list(REAL_BOOKS))
def test_real_book(name: str, real_books: dict[str, tuple[str, StrippedBook]]) -> None:
    title, author, encoding, first, last = REAL_BOOKS[name]
    decoded_as, book = real_books[name]
    lines = [line.strip() for line in book.text.split("\n") if line.strip()]
    assert decoded_as == encoding
    assert (book.title, book.author) == (title, author)
    assert lines[0] == first
    assert lines[-1] == last
    assert not BOILERPLATE.search(book.text)
    for leftover in ("Produced by", "Transcriber", "transcriber", "gutenberg", "Gutenberg"):
        assert leftover not in book.text
    assert book.language in ("en", "")


def test_real_books_keep_known_passages(real_books: dict[str, tuple[str, StrippedBook]]) -> None:
    dracula = real_books["pg345_dracula_this-variant.txt"][1].text
    assert "_3 May. Bistritz._--Left Munich at 8:35 P. M., on 1st May, arriving at" in dracula
    alice = real_books["alice30_1994-etext.txt"][1]
    assert "Alice was beginning to get very tired of sitting by her sister" in alice.text
    assert alice.text.endswith("THE END\n\n3")
    assert alice.flags == ("no_end_marker",)
    cthulhu = real_books["pg68283-orig_call-of-cthulhu_2022.txt"][1].text
    assert "[Footnote 1: Found among the papers of the late Francis Wayland" in cthulhu
    assert "--_Algernon Blackwood._" in cthulhu


def test_cp1252_edition_keeps_its_curly_quotes(
    real_books: dict[str, tuple[str, StrippedBook]],
) -> None:
    book = real_books["morning-bells_cp1252-labelled-utf8.txt"][1]
    assert "\u201cThy holy child Jesus.\u201d\u2014Acts iv. 30." in book.text
    assert "Christ\u2019s Childhood." in book.text
    assert "\ufffd" not in book.text and "\u0093" not in book.text


def test_no_marker_text_is_kept_whole() -> None:
    data = (SAMPLE_BOOKS / "a-short-sermon_no-markers.txt").read_bytes()
    book = strip_gutenberg(decode_text(data).text)
    assert book.text == data.decode("utf-8").strip()
    assert book.flags == ("no_markers",)


@pytest.mark.parametrize(
    "leftover",
    [
        "donations to the Project Gutenberg Literary\nArchive Foundation, how to help",
        "the terms of the Project Gutenberg\nLicense included with this eBook",
        "*** END OF THIS PROJECT\nGUTENBERG EBOOK DRACULA ***",
        "***START**THE SMALL\nPRINT!**FOR PUBLIC DOMAIN ETEXTS**START***",
        "Project Gutenberg-tm trademark",
        "www.gutenberg.org/license",
    ],
)
def test_boilerplate_pattern_finds_licence_phrases_across_line_breaks(leftover: str) -> None:
    assert BOILERPLATE.search(f"The author's last words.\n\n{leftover}\n")


@pytest.mark.parametrize(
    "prose",
    [
        "Gutenberg printed his Bible with movable type.",
        "The project was licensed to the town of Mainz.",
        "She read the small print on the ticket.",
    ],
)
def test_boilerplate_pattern_leaves_prose_alone(prose: str) -> None:
    assert not BOILERPLATE.search(prose)
