--- Drives a real headless Neovim through chatls's shipped config (editors/nvim/init.lua is
--- loaded with -u before this file): waits for chatls to attach, refactors a linewise
--- visual selection with :ChatlsRefactor, then explains it with :ChatlsExplain, and writes
--- what happened as JSON to $CHATLS_E2E_OUT. Run by e2e/test_nvim.py.

local out_path = assert(os.getenv('CHATLS_E2E_OUT'), 'CHATLS_E2E_OUT is not set')
local result = { progress = {}, statuses = {}, steps = {} }

local function finish(ok, err)
  result.messages = vim.api.nvim_exec2('messages', { output = true }).output
  result.ok = ok
  result.error = err
  local file = assert(io.open(out_path, 'w'))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd(ok and 'qa!' or 'cquit! 1')
end

local function step(name)
  table.insert(result.steps, name)
end

vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local value = ev.data.params.value or {}
    table.insert(result.progress, { kind = value.kind, title = value.title, message = value.message })
    table.insert(result.statuses, require('chatls').status())
  end,
})

local function run()
  local code_buf = vim.api.nvim_get_current_buf()
  result.file = vim.api.nvim_buf_get_name(code_buf)
  local original = table.concat(vim.api.nvim_buf_get_lines(code_buf, 0, -1, false), '\n')

  step('attach')
  local attached = vim.wait(20000, function()
    local client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]
    return client ~= nil and client.initialized
  end, 50)
  if not attached then
    return finish(false, 'chatls did not attach to the buffer within 20 s')
  end
  local client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]
  result.offset_encoding = client.offset_encoding
  result.commands = (client.server_capabilities.executeCommandProvider or {}).commands

  step('refactor')
  vim.cmd('normal! 7GV13G')
  vim.cmd('normal! \27')
  vim.cmd("'<,'>ChatlsRefactor make it correct for even lengths")
  local changed = vim.wait(30000, function()
    return table.concat(vim.api.nvim_buf_get_lines(code_buf, 0, -1, false), '\n') ~= original
  end, 50)
  result.refactored = table.concat(vim.api.nvim_buf_get_lines(code_buf, 0, -1, false), '\n')
  if not changed then
    return finish(false, 'the buffer did not change within 30 s')
  end
  local ends = function()
    local count = 0
    for _, event in ipairs(result.progress) do
      if event.kind == 'end' then
        count = count + 1
      end
    end
    return count
  end
  vim.wait(10000, function()
    return ends() >= 1
  end, 50)

  step('explain')
  vim.api.nvim_set_current_buf(code_buf)
  vim.cmd('normal! 7GV13G')
  vim.cmd('normal! \27')
  vim.cmd("'<,'>ChatlsExplain")
  local md_win
  local shown = vim.wait(30000, function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      local name = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
      if name:match('%.md$') then
        md_win = win
        return true
      end
    end
    return false
  end, 50)
  if not shown then
    return finish(false, 'no markdown window opened within 30 s')
  end
  local md_buf = vim.api.nvim_win_get_buf(md_win)
  result.explanation_path = vim.api.nvim_buf_get_name(md_buf)
  result.explanation = table.concat(vim.api.nvim_buf_get_lines(md_buf, 0, -1, false), '\n')
  result.windows = #vim.api.nvim_list_wins()
  result.code_still_visible = vim.fn.bufwinid(code_buf) ~= -1
  vim.wait(10000, function()
    return ends() >= 2
  end, 50)
  return finish(true, nil)
end

vim.schedule(function()
  local ok, err = pcall(run)
  if not ok then
    finish(false, tostring(err))
  end
end)
