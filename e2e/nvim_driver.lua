--- Drives a real headless Neovim through chatls's shipped config (editors/nvim/init.lua is
--- loaded with -u before this file) and writes what happened as JSON to $CHATLS_E2E_OUT.
--- $CHATLS_E2E_SCENARIO names one of the `scenarios` below (default: refactor_and_explain).
--- Run by e2e/test_nvim.py.
---
--- A new scenario is one function in `scenarios`: it gets the code buffer (chatls already
--- attached), uses the helpers here, puts what the test should check into `result`, and
--- returns nothing (or errors with a sentence, which fails the test with that sentence).

local out_path = assert(os.getenv('CHATLS_E2E_OUT'), 'CHATLS_E2E_OUT is not set')
local scenario_name = os.getenv('CHATLS_E2E_SCENARIO') or 'refactor_and_explain'
local result = { scenario = scenario_name, progress = {}, statuses = {}, steps = {} }

local function finish(ok, err)
  result.messages = vim.api.nvim_exec2('messages', { output = true }).output
  result.ok = ok
  result.error = err
  local file = assert(io.open(out_path, 'w'))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd(ok and 'qa!' or 'cquit! 1')
end

--- Record the step about to run (the test prints the steps of a failure).
local function step(name)
  table.insert(result.steps, name)
end

--- Wait up to `ms` for `condition`; error with `what` when it never holds.
local function wait_for(ms, condition, what)
  if not vim.wait(ms, condition, 50) then
    error(('%s within %d s'):format(what, ms / 1000), 0)
  end
end

local function text_of(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
end

--- How many chatls progress sequences have ended so far.
local function progress_ends()
  local count = 0
  for _, event in ipairs(result.progress) do
    if event.kind == 'end' then
      count = count + 1
    end
  end
  return count
end

--- Select lines `first`..`last` linewise and leave visual mode, so '< and '> mark them
--- (what `:'<,'>` commands read).
local function select_lines(first, last)
  vim.cmd(('normal! %dGV%dG'):format(first, last))
  vim.cmd('normal! \27')
end

--- The window showing a markdown file, if any.
local function markdown_window()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win)):match('%.md$') then
      return win
    end
  end
  return nil
end

vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(ev)
    local value = ev.data.params.value or {}
    table.insert(result.progress, { kind = value.kind, title = value.title, message = value.message })
    table.insert(result.statuses, require('chatls').status())
  end,
})

local scenarios = {}

--- :ChatlsRefactor on lines 7-13 with an instruction, then :ChatlsExplain on them.
function scenarios.refactor_and_explain(code_buf)
  local original = text_of(code_buf)

  step('refactor')
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsRefactor make it correct for even lengths")
  local changed = vim.wait(30000, function()
    return text_of(code_buf) ~= original
  end, 50)
  result.refactored = text_of(code_buf)
  if not changed then
    error('the buffer did not change within 30 s', 0)
  end
  wait_for(10000, function()
    return progress_ends() >= 1
  end, 'the refactor progress did not end')

  step('explain')
  vim.api.nvim_set_current_buf(code_buf)
  select_lines(7, 13)
  vim.cmd("'<,'>ChatlsExplain")
  wait_for(30000, function()
    return markdown_window() ~= nil
  end, 'no markdown window opened')
  local md_buf = vim.api.nvim_win_get_buf(markdown_window())
  result.explanation_path = vim.api.nvim_buf_get_name(md_buf)
  result.explanation = text_of(md_buf)
  result.windows = #vim.api.nvim_list_wins()
  result.code_still_visible = vim.fn.bufwinid(code_buf) ~= -1
  wait_for(10000, function()
    return progress_ends() >= 2
  end, 'the explain progress did not end')
end

--- The built-in `gra` on a linewise selection of lines 7-13, picking "Refactor with AI"
--- from the menu Neovim offers (vim.ui.select, answered here as a person would).
function scenarios.code_action_menu(code_buf)
  local original = text_of(code_buf)
  local pick = os.getenv('CHATLS_E2E_PICK') or 'Refactor with AI'
  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = {}
    local chosen, chosen_index
    for index, item in ipairs(items) do
      local title = (opts.format_item and opts.format_item(item)) or tostring(item)
      -- Neovim's items are { action = CodeAction, ctx = ... }; keep the plain title.
      local action_title = type(item) == 'table' and item.action and item.action.title or title
      table.insert(offered, action_title)
      if action_title == pick then
        chosen, chosen_index = item, index
      end
    end
    on_choice(chosen, chosen_index)
  end

  step('gra')
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('7GV13Ggra', true, false, true), 'x', false)
  wait_for(20000, function()
    return offered ~= nil
  end, 'gra offered no code-action menu')
  result.offered = offered
  local changed = vim.wait(30000, function()
    return text_of(code_buf) ~= original
  end, 50)
  result.refactored = text_of(code_buf)
  if not changed then
    error(('the buffer did not change within 30 s after picking %q from %s'):format(pick, vim.inspect(offered)), 0)
  end
  wait_for(10000, function()
    return progress_ends() >= 1
  end, 'the progress did not end')
end

local function run()
  local scenario = scenarios[scenario_name]
  if not scenario then
    error('no such scenario: ' .. scenario_name, 0)
  end
  local code_buf = vim.api.nvim_get_current_buf()
  result.file = vim.api.nvim_buf_get_name(code_buf)

  step('attach')
  wait_for(20000, function()
    local client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]
    return client ~= nil and client.initialized
  end, 'chatls did not attach to the buffer')
  local client = vim.lsp.get_clients({ bufnr = code_buf, name = 'chatls' })[1]
  result.offset_encoding = client.offset_encoding
  result.commands = (client.server_capabilities.executeCommandProvider or {}).commands

  scenario(code_buf)
  return finish(true, nil)
end

vim.schedule(function()
  local ok, err = pcall(run)
  if not ok then
    finish(false, tostring(err))
  end
end)
