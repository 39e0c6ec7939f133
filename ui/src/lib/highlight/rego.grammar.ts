// A TextMate grammar for Rego v1 (the policy language of .oxide/policy), for shiki. Shiki
// bundles no Rego grammar; this one covers what the editor colours: comments, strings (plain
// and raw), numbers, keywords, the rule heads and built-in calls. Scopes follow TextMate
// naming, so any shiki theme colours them.
import type { LanguageRegistration } from 'shiki/core';

export const rego: LanguageRegistration = {
  name: 'rego',
  scopeName: 'source.rego',
  displayName: 'Rego',
  fileTypes: ['rego'],
  patterns: [
    { include: '#comment' },
    { include: '#string' },
    { include: '#keyword' },
    { include: '#constant' },
    { include: '#number' },
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
    keyword: {
      name: 'keyword.control.rego',
      match: '\\b(package|import|as|default|else|not|some|every|in|if|contains|with)\\b',
    },
    constant: { name: 'constant.language.rego', match: '\\b(true|false|null)\\b' },
    number: { name: 'constant.numeric.rego', match: '\\b-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?\\b' },
    head: {
      match: '^([A-Za-z_][A-Za-z0-9_]*)(?=\\s*(\\(|:=|=|\\bif\\b|\\bcontains\\b|\\[|\\{))',
      captures: { '1': { name: 'entity.name.function.rego' } },
    },
    call: {
      match: '\\b([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)(?=\\()',
      captures: { '1': { name: 'support.function.rego' } },
    },
    operator: { name: 'keyword.operator.rego', match: ':=|==|!=|<=|>=|[<>+\\-*/%|&=]' },
  },
};
