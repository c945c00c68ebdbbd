--- chatls user commands for Neovim 0.11+ (the server config is lsp/chatls.lua):
---   :[range]ChatlsExplain
---   :[range]ChatlsRefactor [instruction]
---   :[range]ChatlsFix [instruction]
---   :[range]ChatlsAsk {question}   a question of your own; the answer opens in the transcript
---   :[range]ChatlsRun {id} [instruction]   any action of the table (a row of `actions` too)
---   :[range]ChatlsChange {instruction}   change files across the workspace (Change with AI):
---                          one diff of every file opens and a menu asks Apply or Discard
---   :ChatlsModel [name]    pick the model (a list without a name)
---   :ChatlsSend            in a transcript: send what you wrote under the last "## You"
---   :ChatlsSendChange      in a transcript: send it as the instruction of a change across files
---   :ChatlsUsage           this session's tokens per model and kind (actions, completions)
---   :ChatlsCancel          stop every running action of the current buffer
---   :ChatlsReset           forget the buffer's conversation with the model
--- Run them from a visual selection (`:'<,'>ChatlsRefactor use early returns`); without a
--- range they act on the current line. Progress is echoed as it streams. Completion while
--- typing is turned on for every buffer chatls attaches to (see `enable_completion` in
--- lua/chatls/init.lua; `vim.g.chatls_completion = false` keeps it off).

if vim.g.loaded_chatls then
  return
end
vim.g.loaded_chatls = true

if vim.fn.has('nvim-0.11') == 0 then
  vim.notify('chatls: needs Neovim 0.11 or newer', vim.log.levels.WARN)
  return
end

local function action_command(name, action, nargs)
  vim.api.nvim_create_user_command(name, function(opts)
    require('chatls').run(action, opts)
  end, { range = true, nargs = nargs, desc = 'chatls: ' .. action .. ' the selection with AI' })
end

action_command('ChatlsExplain', 'explain', 0)
action_command('ChatlsRefactor', 'refactor', '*')
action_command('ChatlsFix', 'fix', '*')

vim.api.nvim_create_user_command('ChatlsChange', function(opts)
  if vim.trim(opts.args or '') == '' then
    vim.notify('chatls: usage: :[range]ChatlsChange {instruction}', vim.log.levels.ERROR)
    return
  end
  require('chatls').run_action('change', vim.tbl_extend('force', opts, { instruction = opts.args }))
end, { range = true, nargs = '+', desc = 'chatls: change files across the workspace with AI' })

vim.api.nvim_create_user_command('ChatlsAsk', function(opts)
  require('chatls').ask(opts)
end, { range = true, nargs = '+', desc = 'chatls: ask a question about the selection' })

vim.api.nvim_create_user_command('ChatlsRun', function(opts)
  local id, instruction = (opts.args or ''):match('^%s*(%S+)%s*(.-)%s*$')
  require('chatls').run_action(id or '', vim.tbl_extend('force', opts, { instruction = instruction or '' }))
end, { range = true, nargs = '+', desc = 'chatls: run an action of the table by id' })

vim.api.nvim_create_user_command('ChatlsUsage', function()
  require('chatls').usage()
end, { desc = "chatls: show this session's tokens per model and kind" })

vim.api.nvim_create_user_command('ChatlsModel', function(opts)
  require('chatls').select_model(opts.args)
end, { nargs = '?', desc = 'chatls: pick the model' })

vim.api.nvim_create_user_command('ChatlsSend', function()
  require('chatls').document_command('followUp')
end, { desc = 'chatls: send the follow-up written under the last "## You" of this transcript' })

vim.api.nvim_create_user_command('ChatlsSendChange', function()
  require('chatls').document_command('followUp', { action = 'change' })
end, { desc = 'chatls: send what is under the last "## You" of this transcript as a change across files' })

vim.api.nvim_create_user_command('ChatlsCancel', function()
  require('chatls').document_command('cancel')
end, { desc = 'chatls: cancel the running actions of this buffer' })

vim.api.nvim_create_user_command('ChatlsReset', function()
  require('chatls').document_command('resetConversation')
end, { desc = "chatls: forget this buffer's conversation" })

vim.api.nvim_create_autocmd('LspProgress', {
  group = vim.api.nvim_create_augroup('chatls_progress', { clear = true }),
  callback = function(ev)
    require('chatls').on_progress(ev)
  end,
})

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('chatls_completion', { clear = true }),
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if client and client.name == 'chatls' then
      require('chatls').enable_completion(client, ev.buf)
    end
  end,
})
