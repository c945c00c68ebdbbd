--- chatls language server configuration for Neovim 0.11+ (`vim.lsp.config` / `vim.lsp.enable`).
---
--- Put this directory (editors/nvim) on 'runtimepath' and call `vim.lsp.enable('chatls')`.
--- Override anything with `vim.lsp.config('chatls', { ... })`, e.g. `cmd`, `cmd_env` or
--- `settings = { chatls = { model = '...', baseUrl = '...' } }`: Neovim sends `settings` as
--- `workspace/didChangeConfiguration` right after start-up and answers
--- `workspace/configuration` from it. Every key of the server's settings table is accepted
--- (all optional; the API key is better left to the CHATLS_API_KEY environment variable):
--- the README's "Settings" table lists them with defaults and ranges, and `chatls
--- settings-schema` prints the same table as JSON Schema. Dotted keys nest:
--- `completion.model` is `completion = { model = '...' }`.

---@type vim.lsp.Config
return {
  cmd = { 'chatls' },
  -- No `filetypes`: chatls works on any text file, so it attaches to every file buffer.
  root_markers = { '.git', '.hg', '.jj', 'Cargo.toml', 'package.json', 'pyproject.toml', 'go.mod' },
  -- From the root markers, except for chatls's transcripts and review diffs: they live in its
  -- cache directory and join the client of the code they came from (a second chatls would
  -- know nothing of the conversation).
  root_dir = function(bufnr, on_dir)
    require('chatls').root_dir(bufnr, on_dir)
  end,
  handlers = {
    -- Explanations are markdown files in chatls's cache dir: open them in a split beside
    -- the code instead of replacing the code buffer.
    ['window/showDocument'] = function(err, result, ctx)
      return require('chatls').show_document(err, result, ctx)
    end,
  },
}
