/* Sums of cached per-word token counts, for ByteLevelCounter (see tokens.py).
 *
 * A text is cut at each U+0020 space into words. `WordCounts.count(text)` returns the tokens
 * stored for its first word (in the `first` table) plus those stored for each later word
 * (in the `later` table, the tokens of " " + word), or -1 as soon as a word is in neither:
 * the Python side then works the missing counts out with the tokenizer, adds them, and
 * asks again. Python decides which words may be stored at all; this file only remembers
 * and adds. It exists because doing the same with `str.split` and dict lookups costs about
 * 100 ns a word, most of it allocating a string per word; here a word costs a hash over its
 * characters and one probe, with no allocation.
 *
 * Each table is open addressing with linear probing over 64-bit FNV-1a hashes of the code
 * points; the words themselves are kept (as UCS-4) and compared in full, so a count is exact.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL
#define INITIAL_SLOTS 1024

typedef struct {
    uint64_t hash; /* 0: empty */
    Py_ssize_t start; /* offset of the word in the arena */
    Py_ssize_t length;
    Py_ssize_t tokens;
} Slot;

typedef struct {
    Slot *slots;
    size_t mask; /* slot count - 1; the count is a power of two */
    size_t used;
    Py_UCS4 *arena;
    size_t arena_used;
    size_t arena_size;
} Table;

typedef struct {
    PyObject_HEAD
    Table first;
    Table later;
} WordCounts;

static inline uint64_t
finish_hash(uint64_t hash)
{
    return hash ? hash : 1; /* 0 marks an empty slot */
}

static int
table_init(Table *table)
{
    table->slots = PyMem_Calloc(INITIAL_SLOTS, sizeof(Slot));
    table->arena = PyMem_Malloc(INITIAL_SLOTS * sizeof(Py_UCS4));
    if (table->slots == NULL || table->arena == NULL) {
        PyMem_Free(table->slots);
        PyMem_Free(table->arena);
        table->slots = NULL;
        table->arena = NULL;
        PyErr_NoMemory();
        return -1;
    }
    table->mask = INITIAL_SLOTS - 1;
    table->used = 0;
    table->arena_used = 0;
    table->arena_size = INITIAL_SLOTS;
    return 0;
}

static void
table_free(Table *table)
{
    PyMem_Free(table->slots);
    PyMem_Free(table->arena);
    table->slots = NULL;
    table->arena = NULL;
}

/* The slot holding the word at data[start:start + length], or the empty slot where it
 * would go. */
static inline Slot *
table_find(const Table *table, uint64_t hash, int kind, const void *data, Py_ssize_t start,
           Py_ssize_t length)
{
    size_t index = (size_t)(hash ^ (hash >> 29)) & table->mask;
    for (;;) {
        Slot *slot = &table->slots[index];
        if (slot->hash == 0) {
            return slot;
        }
        if (slot->hash == hash && slot->length == length) {
            const Py_UCS4 *word = table->arena + slot->start;
            Py_ssize_t i = 0;
            while (i < length && word[i] == PyUnicode_READ(kind, data, start + i)) {
                i++;
            }
            if (i == length) {
                return slot;
            }
        }
        index = (index + 1) & table->mask;
    }
}

static int
table_grow(Table *table)
{
    size_t size = (table->mask + 1) * 2;
    Slot *slots = PyMem_Calloc(size, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i <= table->mask; i++) {
        Slot *old = &table->slots[i];
        if (old->hash == 0) {
            continue;
        }
        size_t index = (size_t)(old->hash ^ (old->hash >> 29)) & (size - 1);
        while (slots[index].hash != 0) {
            index = (index + 1) & (size - 1);
        }
        slots[index] = *old;
    }
    PyMem_Free(table->slots);
    table->slots = slots;
    table->mask = size - 1;
    return 0;
}

static uint64_t
word_hash(int kind, const void *data, Py_ssize_t length)
{
    uint64_t hash = FNV_OFFSET;
    for (Py_ssize_t i = 0; i < length; i++) {
        hash = (hash ^ PyUnicode_READ(kind, data, i)) * FNV_PRIME;
    }
    return finish_hash(hash);
}

static int
table_put(Table *table, PyObject *word, Py_ssize_t tokens)
{
    int kind = PyUnicode_KIND(word);
    const void *data = PyUnicode_DATA(word);
    Py_ssize_t length = PyUnicode_GET_LENGTH(word);
    uint64_t hash = word_hash(kind, data, length);
    Slot *slot = table_find(table, hash, kind, data, 0, length);
    if (slot->hash != 0) {
        slot->tokens = tokens;
        return 0;
    }
    if (table->arena_used + (size_t)length > table->arena_size) {
        size_t size = table->arena_size;
        while (table->arena_used + (size_t)length > size) {
            size *= 2;
        }
        Py_UCS4 *arena = PyMem_Realloc(table->arena, size * sizeof(Py_UCS4));
        if (arena == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        table->arena = arena;
        table->arena_size = size;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        table->arena[table->arena_used + i] = PyUnicode_READ(kind, data, i);
    }
    slot->hash = hash;
    slot->start = (Py_ssize_t)table->arena_used;
    slot->length = length;
    slot->tokens = tokens;
    table->arena_used += length;
    table->used++;
    if (table->used * 4 >= (table->mask + 1) * 3) {
        return table_grow(table);
    }
    return 0;
}

/* Tokens of the text's words, or -1 if a word is unknown. `kind` is a constant at each call
 * site below, so the compiler makes one loop per string kind. */
static inline Py_ssize_t
count_words(const WordCounts *self, int kind, const void *data, Py_ssize_t length)
{
    const Table *table = &self->first;
    Py_ssize_t total = 0;
    Py_ssize_t start = 0;
    uint64_t hash = FNV_OFFSET;
    for (Py_ssize_t i = 0; i <= length; i++) {
        Py_UCS4 c = i < length ? PyUnicode_READ(kind, data, i) : ' ';
        if (c != ' ') {
            hash = (hash ^ c) * FNV_PRIME;
            continue;
        }
        const Slot *slot =
            table_find(table, finish_hash(hash), kind, data, start, i - start);
        if (slot->hash == 0) {
            return -1;
        }
        total += slot->tokens;
        table = &self->later;
        start = i + 1;
        hash = FNV_OFFSET;
    }
    return total;
}

static PyObject *
WordCounts_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "WordCounts() takes no arguments");
        return NULL;
    }
    WordCounts *self = (WordCounts *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (table_init(&self->first) < 0 || table_init(&self->later) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
WordCounts_dealloc(WordCounts *self)
{
    table_free(&self->first);
    table_free(&self->later);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
WordCounts_count(WordCounts *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "count() takes a str");
        return NULL;
    }
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t length = PyUnicode_GET_LENGTH(text);
    Py_ssize_t total;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        total = count_words(self, PyUnicode_1BYTE_KIND, data, length);
        break;
    case PyUnicode_2BYTE_KIND:
        total = count_words(self, PyUnicode_2BYTE_KIND, data, length);
        break;
    default:
        total = count_words(self, PyUnicode_4BYTE_KIND, data, length);
        break;
    }
    return PyLong_FromSsize_t(total);
}

static PyObject *
put_into(Table *table, PyObject *args)
{
    PyObject *word;
    Py_ssize_t tokens;
    if (!PyArg_ParseTuple(args, "Un", &word, &tokens)) {
        return NULL;
    }
    if (tokens < 0) {
        PyErr_SetString(PyExc_ValueError, "a token count is never negative");
        return NULL;
    }
    if (table_put(table, word, tokens) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
holds(Table *table, PyObject *word)
{
    if (!PyUnicode_Check(word)) {
        PyErr_SetString(PyExc_TypeError, "a word is a str");
        return NULL;
    }
    int kind = PyUnicode_KIND(word);
    const void *data = PyUnicode_DATA(word);
    Py_ssize_t length = PyUnicode_GET_LENGTH(word);
    uint64_t hash = word_hash(kind, data, length);
    return PyBool_FromLong(table_find(table, hash, kind, data, 0, length)->hash != 0);
}

static PyObject *
WordCounts_has_first(WordCounts *self, PyObject *word)
{
    return holds(&self->first, word);
}

static PyObject *
WordCounts_has_later(WordCounts *self, PyObject *word)
{
    return holds(&self->later, word);
}

static PyObject *
WordCounts_put_first(WordCounts *self, PyObject *args)
{
    return put_into(&self->first, args);
}

static PyObject *
WordCounts_put_later(WordCounts *self, PyObject *args)
{
    return put_into(&self->later, args);
}

static PyObject *
WordCounts_clear(WordCounts *self, PyObject *Py_UNUSED(ignored))
{
    Table first, later;
    if (table_init(&first) < 0) {
        return NULL;
    }
    if (table_init(&later) < 0) {
        table_free(&first);
        return NULL;
    }
    table_free(&self->first);
    table_free(&self->later);
    self->first = first;
    self->later = later;
    Py_RETURN_NONE;
}

static Py_ssize_t
WordCounts_len(WordCounts *self)
{
    return (Py_ssize_t)(self->first.used + self->later.used);
}

static PyMethodDef WordCounts_methods[] = {
    {"count", (PyCFunction)WordCounts_count, METH_O,
     "count(text): the stored tokens of the first word plus those of each later word, or -1 "
     "if a word is not stored."},
    {"put_first", (PyCFunction)WordCounts_put_first, METH_VARARGS,
     "put_first(word, tokens): the tokens of `word` at the start of a text."},
    {"put_later", (PyCFunction)WordCounts_put_later, METH_VARARGS,
     "put_later(word, tokens): the tokens of ' ' + word, for a word after a space."},
    {"has_first", (PyCFunction)WordCounts_has_first, METH_O,
     "has_first(word): whether the tokens of `word` at the start of a text are stored."},
    {"has_later", (PyCFunction)WordCounts_has_later, METH_O,
     "has_later(word): whether the tokens of ' ' + word are stored."},
    {"clear", (PyCFunction)WordCounts_clear, METH_NOARGS, "clear(): forget every word."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods WordCounts_as_sequence = {
    .sq_length = (lenfunc)WordCounts_len,
};

static PyTypeObject WordCountsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "llmft_assets.chunking._wordcounts.WordCounts",
    .tp_doc = "Token counts per word, summed over a text's space-separated words.",
    .tp_basicsize = sizeof(WordCounts),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = WordCounts_new,
    .tp_dealloc = (destructor)WordCounts_dealloc,
    .tp_methods = WordCounts_methods,
    .tp_as_sequence = &WordCounts_as_sequence,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_wordcounts",
    .m_doc = "Cached per-word token counts, summed in C (see tokens.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__wordcounts(void)
{
    if (PyType_Ready(&WordCountsType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&WordCountsType);
    if (PyModule_AddObject(m, "WordCounts", (PyObject *)&WordCountsType) < 0) {
        Py_DECREF(&WordCountsType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
