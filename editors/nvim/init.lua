--- Example Neovim 0.11+ configuration for chatls. Copy what you need into your init.lua,
--- or try it as is: nvim -u editors/nvim/init.lua some_file.py

-- Where this file lives (editors/nvim): it holds lsp/chatls.lua and plugin/chatls.lua.
local here = vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2))
vim.opt.runtimepath:prepend(here)
vim.cmd('runtime plugin/chatls.lua')

-- Optional overrides; the API key is best left in the CHATLS_API_KEY environment variable.
vim.lsp.config('chatls', {
  -- cmd = { '/path/to/chatls' },
  -- settings = {
  --   chatls = {
  --     baseUrl = 'http://127.0.0.1:8080/v1', -- e.g. what scripts/local-model.sh prints
  --     model = 'claude-sonnet-4-6',
  --     explain = { output = 'document' },
  --   },
  -- },
})
vim.lsp.enable('chatls')

-- Code actions (Explain / Refactor / Fix with AI) come with the built-in `gra` mapping.
-- Shortcuts for a visual selection (":" inserts the '<,'> range):
vim.keymap.set('x', '<leader>ae', ':ChatlsExplain<CR>', { desc = 'chatls: explain' })
vim.keymap.set('x', '<leader>ar', ':ChatlsRefactor ', { desc = 'chatls: refactor (type an instruction)' })
vim.keymap.set('x', '<leader>af', ':ChatlsFix<CR>', { desc = 'chatls: fix' })
vim.keymap.set('n', '<leader>ac', '<cmd>ChatlsCancel<CR>', { desc = 'chatls: cancel' })

-- Show the running action in the statusline.
vim.o.statusline = "%f %h%m%r%=%{v:lua.require'chatls'.status()}  %l:%c "

-- Completion while typing: on Neovim 0.12+ ghost text appears after a pause; <Tab> accepts
-- it (and is a plain <Tab> when there is none). On 0.11 chatls's suggestion is an item of
-- the completion menu (<C-n> selects it, <C-y> accepts it): 'menuone' shows the menu for that
-- one item (without it Neovim inserts a lone match at once), 'noselect' leaves the choice to you.
vim.opt.completeopt = { 'menuone', 'noselect', 'popup' }
vim.keymap.set('i', '<Tab>', function()
  if not (vim.lsp.inline_completion and vim.lsp.inline_completion.get()) then
    return '<Tab>'
  end
end, { expr = true, desc = 'chatls: accept the inline completion' })
