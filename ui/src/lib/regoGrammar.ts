// A TextMate grammar for Rego (OPA's policy language: the workspace's .oxide/policy files),
// which shiki does not bundle. Scopes follow the common TextMate names so any theme colours
// them: comments, strings (plain and raw), numbers, keywords, built-in constants, rule heads
// and operators.
import type { LanguageRegistration } from 'shiki/core';

export const rego: LanguageRegistration = {
  name: 'rego',
  scopeName: 'source.rego',
  displayName: 'Rego',
  fileTypes: ['rego'],
  patterns: [
    { include: '#comment' },
    { include: '#string' },
    { include: '#number' },
    { include: '#keyword' },
    { include: '#constant' },
    { include: '#head' },
    { include: '#call' },
    { include: '#operator' },
  ],
  repository: {
    comment: { name: 'comment.line.number-sign.rego', match: '#.*$' },
    string: {
      patterns: [
        {
          name: 'string.quoted.double.rego',
          begin: '"',
          end: '"',
          patterns: [{ name: 'constant.character.escape.rego', match: '\\\\.' }],
        },
        { name: 'string.quoted.other.raw.rego', begin: '`', end: '`' },
      ],
    },
    number: { name: 'constant.numeric.rego', match: '\\b-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?\\b' },
    keyword: {
      name: 'keyword.other.rego',
      match: '\\b(package|import|as|default|else|not|with|some|every|in|if|contains)\\b',
    },
    constant: { name: 'constant.language.rego', match: '\\b(true|false|null)\\b' },
    head: {
      match: '^([a-zA-Z_][a-zA-Z0-9_]*)(?=\\s*(?:\\[|\\(|:=|=|\\{|contains|if|$))',
      captures: { 1: { name: 'entity.name.function.rego' } },
    },
    call: {
      match: '\\b([a-zA-Z_][a-zA-Z0-9_]*(?:\\.[a-zA-Z_][a-zA-Z0-9_]*)*)(?=\\()',
      captures: { 1: { name: 'support.function.rego' } },
    },
    operator: { name: 'keyword.operator.rego', match: ':=|==|!=|<=|>=|[=<>+\\-*/%&|]' },
  },
};
